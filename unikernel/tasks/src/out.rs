//! Console output from EL0: whole lines through the console syscall,
//! formatted on the stack (the EL0 image has no heap).

use core::fmt::{self, Write};

/// A line being built.
#[derive(Clone, Copy)]
pub struct Line {
    buf: [u8; 240],
    len: usize,
}

impl Line {
    /// An empty line.
    pub const fn new() -> Self {
        Self {
            buf: [0; 240],
            len: 0,
        }
    }

    /// The text so far.
    pub fn as_str(&self) -> &str {
        core::str::from_utf8(&self.buf[..self.len]).unwrap_or("<invalid utf-8>")
    }

    /// Writes the line to the console.
    pub fn emit(&self) {
        // The console is all a task can report through; nothing to do if it fails.
        let _ = zx::console_write(self.as_str());
    }
}

impl Write for Line {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let room = self.buf.len() - self.len;
        let mut n = s.len().min(room);
        while !s.is_char_boundary(n) {
            n -= 1;
        }
        let dst = &mut self.buf[self.len..self.len + n];
        dst.copy_from_slice(&s.as_bytes()[..n]);
        // A line is one console line: the console refuses a line break
        // inside (a failure text that `stringify!` wrapped would be lost).
        for b in dst.iter_mut().filter(|b| **b == b'\n' || **b == b'\r') {
            *b = b' ';
        }
        self.len += n;
        Ok(())
    }
}

/// Prints one line.
#[macro_export]
macro_rules! println {
    ($($arg:tt)*) => {{
        let mut line = $crate::out::Line::new();
        let _ = core::fmt::Write::write_fmt(&mut line, format_args!($($arg)*));
        line.emit();
    }};
}

/// Formats into a [`Line`] without printing it.
pub fn format(args: fmt::Arguments) -> Line {
    let mut line = Line::new();
    let _ = line.write_fmt(args);
    line
}
