//! The interrupt controller: GICv2 (QEMU `virt`, the Pi 4's GIC-400) or
//! GICv3 (QEMU `virt`, `gic-version=3`) through arm-gic, found in the device
//! tree. Interrupts are acknowledged, dispatched through a table of handlers
//! indexed by INTID, and ended; spurious and special INTIDs are ignored.
//!
//! GICv2 comes in two views. Without the Security Extensions (QEMU's models)
//! everything is Group 0 and `GICD_CTLR` bit 0 enables it. In the Non-secure
//! view of a GIC that has them (the real GIC-400, after the Pi firmware made
//! every interrupt Non-secure Group 1) `GICD_IGROUPR` reads as zero and
//! ignores writes, and bit 0 of `GICD_CTLR` and `GICC_CTLR` is the Group 1
//! enable. Either way `GICC_IAR`/`GICC_EOIR` acknowledge and end the
//! interrupts this CPU may take, which arm-gic calls the Group 0 registers.
//!
//! GICv3 uses Group 1 and the `ICC_*` system registers (after an EL2 entry,
//! `boot.rs` has set `ICC_SRE_EL2` so EL1 may use them).

use super::context::{cpu_index, MAX_CPUS};
use crate::devicetree::GicInfo;
use crate::sync::IrqMutex;
use arm_gic::gicv2::{GicV2, SgiTarget as SgiTargetV2, SgiTargetListFilter};
use arm_gic::gicv3::{GicCpuInterface, GicV3, SgiTarget as SgiTargetV3, SgiTargetGroup};
pub use arm_gic::{IntId, Trigger};
use arm_gic::{InterruptGroup, UniqueMmioPointer};
use core::ptr::NonNull;
use core::sync::atomic::{AtomicU64, AtomicU8, Ordering};

/// The priority every interrupt gets: the highest a Non-secure write can
/// express (a GICv2 with Security Extensions shifts NS priorities down a bit
/// and sets the top one; GICv3 Non-secure Group 1 starts here too).
pub const DEFAULT_PRIORITY: u8 = arm_gic::gicv3::HIGHEST_NS_PRIORITY;

/// The priority mask that lets every priority through.
const PRIORITY_MASK_ALL: u8 = 0xff;

/// INTIDs below this are SGIs, PPIs and SPIs; 1020–1023 are special.
const INTID_LIMIT: usize = 1020;

/// Per CPU (by index): how an SGI names it. GICv2: its CPU interface's
/// bit in `GICD_SGIR`'s target list, as its banked `GICD_ITARGETSR0` reads;
/// GICv3: its MPIDR affinity (Aff3 in bits 39:32).
static SGI_TARGET: [AtomicU64; MAX_CPUS] = [const { AtomicU64::new(0) }; MAX_CPUS];

/// `GICD_ITARGETSR0`'s offset in the distributor: for SGIs and PPIs each
/// byte reads as the CPU interface's own bit (banked, read-only).
const GICD_ITARGETSR0: usize = 0x800;

/// Bits of `GICC_IAR` that hold the INTID; bits 12:10 name an SGI's source CPU.
const GICV2_IAR_INTID_MASK: u32 = 0x3ff;

/// Something to run when an interrupt arrives (with IRQs masked).
pub type Handler = fn(IntId);

enum Driver {
    /// arm-gic's driver, and the priority bytes it writes wrongly.
    V2(GicV2<'static>, PriorityBytes),
    /// arm-gic's driver, and the SPIs' priority bytes (for reading back).
    V3(GicV3<'static>, PriorityBytes),
}

/// The distributor's `GICD_IPRIORITYR`: one byte per INTID. arm-gic 0.10.0's
/// `GicV2::set_interrupt_priority` writes the whole 32-bit word, which
/// clears the priorities of the other three INTIDs in it (setting INTID 27,
/// the virtual timer, zeroed 24–26). The registers are byte-accessible
/// (GICv2 architecture, 4.3.11), so each priority is written alone. (Its
/// GICv3 calls write single bytes already.)
struct PriorityBytes(*mut u8);

impl PriorityBytes {
    /// `GICD_IPRIORITYR0`'s offset in the distributor.
    const OFFSET: usize = 0x400;

    /// One INTID's priority byte.
    fn byte(&self, intid: IntId) -> *mut u8 {
        let index = intid.raw_value() as usize;
        assert!(index < INTID_LIMIT, "{intid:?} has no priority byte");
        self.0.wrapping_add(Self::OFFSET + index)
    }

    fn set(&mut self, intid: IntId, priority: u8) {
        // SAFETY: `init`'s caller vouched for the distributor's MMIO; the
        // byte lies inside its IPRIORITYR array (INTID < 1020), and the
        // GIC's lock serialises every access.
        unsafe { self.byte(intid).write_volatile(priority) }
    }

    fn get(&self, intid: IntId) -> u8 {
        // SAFETY: as in `set`.
        unsafe { self.byte(intid).read_volatile() }
    }
}

// SAFETY: the driver holds pointers to MMIO that no other code aliases; it
// lives in a lock, so only one CPU touches it at a time.
unsafe impl Send for Driver {}

static GIC: IrqMutex<Option<Driver>> = crate::sync::ranked(crate::sync::Rank::Gic, None);
static HANDLERS: IrqMutex<[Option<Handler>; INTID_LIMIT]> =
    crate::sync::ranked(crate::sync::Rank::IrqHandlers, [None; INTID_LIMIT]);
/// The GIC architecture version in use (0 before [`init`]).
static VERSION: AtomicU8 = AtomicU8::new(0);
/// Interrupts acknowledged, for statistics and tests.
static ACKNOWLEDGED: AtomicU64 = AtomicU64::new(0);
/// Acknowledged interrupts that had no handler.
static UNHANDLED: AtomicU64 = AtomicU64::new(0);

/// Why the GIC could not be brought up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GicError {
    /// arm-gic rejected the GICv3 redistributor layout.
    Redistributor(arm_gic::gicv3::GicError),
}

/// Initialises the distributor and the boot CPU's interface: every
/// interrupt disabled, priority mask open, forwarding on. `cpus`: how many
/// CPUs may come up (GICv3: the redistributors set up here).
///
/// # Safety
/// `info` must describe the GIC's MMIO regions; they are device memory
/// (MMU off, or mapped as device memory) and nothing else drives them.
pub unsafe fn init(info: GicInfo, cpus: usize) -> Result<(), GicError> {
    let driver = match info {
        GicInfo::V2 {
            distributor,
            cpu_interface,
        } => {
            // SAFETY: the caller vouches for both regions; this is the only driver.
            let mut gic = unsafe {
                GicV2::new(
                    distributor.start as *mut arm_gic::gicv2::registers::Gicd,
                    cpu_interface.start as *mut arm_gic::gicv2::registers::Gicc,
                )
            };
            let _ = cpus;
            // Every implemented interrupt off (arm-gic's `enable_all_interrupts`
            // would also write the registers of the 1020 - N it lacks).
            let spis = gic
                .typer()
                .num_irqs()
                .saturating_sub(IntId::private().count() as u32);
            for intid in IntId::private().chain((0..spis).map(IntId::spi)) {
                // Disabling never fails; only an enable can fail to stick.
                let _ = gic.enable_interrupt(intid, false);
            }
            // Without Security Extensions this enables Group 0 and puts every
            // interrupt in it; with them (Non-secure view) its writes to
            // IGROUPR and GICD_CTLR bit 1 are ignored...
            gic.setup();
            // ...and bit 0 of GICD_CTLR is the Non-secure Group 1 enable.
            gic.enable_group0(true);
            gic.set_priority_mask(PRIORITY_MASK_ALL);
            if gic.typer().has_security_extension() {
                // The kernel never runs secure: this is the view it has.
                crate::info!("gic: non-secure view (Security Extensions): Group 1 only");
            }
            Driver::V2(gic, PriorityBytes(distributor.start as *mut u8))
        }
        GicInfo::V3 {
            distributor,
            redistributors,
        } => {
            // SAFETY: the caller vouches for the distributor's region.
            let gicd = unsafe {
                UniqueMmioPointer::new(
                    NonNull::new(distributor.start as *mut arm_gic::gicv3::registers::Gicd)
                        .expect("the device tree gives a non-zero GICD"),
                )
            };
            let gicr =
                NonNull::new(redistributors.start as *mut arm_gic::gicv3::registers::GicrSgi)
                    .expect("the device tree gives a non-zero GICR");
            // SAFETY: the caller vouches for the redistributors' region.
            let mut gic = unsafe { GicV3::new(gicd, gicr, cpus.clamp(1, MAX_CPUS)) }
                .map_err(GicError::Redistributor)?;
            gic.setup(cpu_index());
            GicCpuInterface::set_priority_mask(PRIORITY_MASK_ALL);
            Driver::V3(gic, PriorityBytes(distributor.start as *mut u8))
        }
    };
    VERSION.store(info.version(), Ordering::Relaxed);
    *GIC.lock() = Some(driver);
    record_sgi_target();
    Ok(())
}

/// Brings up a secondary CPU's side of the GIC (its CPU interface, and on
/// GICv3 its redistributor): its SGIs and PPIs disabled, priority mask
/// open, forwarding on. After [`init`], on the CPU itself.
pub fn init_cpu() {
    with_gic(|gic| match gic {
        Driver::V2(g, _) => {
            // SGIs and PPIs are banked per CPU: this CPU's copies off.
            for intid in IntId::private() {
                let _ = g.enable_interrupt(intid, false);
            }
            // Its banked `GICD_IGROUPR0` and its CPU interface; the
            // distributor-wide writes repeat the boot CPU's, unchanged.
            g.setup();
            g.enable_group0(true);
            g.set_priority_mask(PRIORITY_MASK_ALL);
        }
        Driver::V3(g, _) => {
            let cpu = cpu_index();
            g.init_cpu(cpu);
            if let Ok(mut r) = g.redistributor(cpu) {
                r.configure_default_settings();
            }
            GicCpuInterface::enable_group1(true);
            GicCpuInterface::set_priority_mask(PRIORITY_MASK_ALL);
        }
    });
    record_sgi_target();
}

/// Records how an SGI names this CPU (see [`SGI_TARGET`]).
fn record_sgi_target() {
    let target = with_gic(|gic| match gic {
        Driver::V2(_, distributor) => {
            // SAFETY: `init`'s caller vouched for the distributor's MMIO;
            // ITARGETSR0 lies inside it and reading it has no effect.
            let bits = unsafe { distributor.0.wrapping_add(GICD_ITARGETSR0).read_volatile() };
            u64::from(bits)
        }
        Driver::V3(..) => super::smp::own_mpidr(),
    });
    SGI_TARGET[cpu_index()].store(target, Ordering::Relaxed);
}

/// Raises SGI `intid` on CPU `cpu` (an index [`init`] or [`init_cpu`] ran on).
pub fn send_sgi(intid: IntId, cpu: usize) {
    let target = SGI_TARGET[cpu].load(Ordering::Relaxed);
    with_gic(|gic| match gic {
        Driver::V2(g, _) => g.send_sgi(
            intid,
            SgiTargetV2::List {
                target_list_filter: SgiTargetListFilter::CPUTargetList,
                target_list: target as u16,
            },
        ),
        Driver::V3(..) => send_sgi_v3(intid, target),
    })
}

/// The GIC version in use: 2 or 3, or 0 before [`init`].
pub fn version() -> u8 {
    VERSION.load(Ordering::Relaxed)
}

fn with_gic<R>(f: impl FnOnce(&mut Driver) -> R) -> R {
    f(GIC
        .lock()
        .as_mut()
        .expect("the GIC is initialised before interrupts are configured"))
}

/// Sets an interrupt's priority and trigger (on this CPU, for an SGI or PPI).
pub fn configure(intid: IntId, priority: u8, trigger: Trigger) {
    with_gic(|gic| match gic {
        Driver::V2(g, priorities) => {
            priorities.set(intid, priority);
            g.set_trigger(intid, trigger);
        }
        Driver::V3(g, _) => {
            let cpu = Some(cpu_index());
            g.set_interrupt_priority(intid, cpu, priority)
                .expect("a valid INTID");
            g.set_trigger(intid, cpu, trigger).expect("a valid INTID");
        }
    })
}

/// An SPI's priority as the distributor reads it back (in a GICv2's
/// Non-secure view, shifted as the write was; bits the GIC does not
/// implement read as zero).
pub fn spi_priority(intid: IntId) -> u8 {
    assert!(!intid.is_private(), "{intid:?} is not an SPI");
    with_gic(|gic| match gic {
        Driver::V2(_, priorities) | Driver::V3(_, priorities) => priorities.get(intid),
    })
}

/// Lets the interrupt through to this CPU (an SGI or PPI: this CPU's copy).
pub fn enable(intid: IntId) {
    set_enabled(intid, true)
}

/// Stops the interrupt from being signalled.
pub fn disable(intid: IntId) {
    set_enabled(intid, false)
}

fn set_enabled(intid: IntId, enable: bool) {
    with_gic(|gic| match gic {
        Driver::V2(g, _) => {
            // GICv2 may hard-wire SGIs enabled: an enable that does not stick
            // is the hardware's choice, not an error.
            let _ = g.enable_interrupt(intid, enable);
        }
        Driver::V3(g, _) => g
            .enable_interrupt(intid, Some(cpu_index()), enable)
            .expect("a valid INTID"),
    })
}

/// Installs `handler` for `intid` (replacing any other); `None` removes it.
pub fn set_handler(intid: IntId, handler: Option<Handler>) {
    let index = intid.raw_value() as usize;
    assert!(index < INTID_LIMIT, "{intid:?} has no handler slot");
    HANDLERS.lock()[index] = handler;
}

/// Raises SGI `intid` on this CPU.
pub fn send_sgi_to_self(intid: IntId) {
    with_gic(|gic| match gic {
        Driver::V2(g, _) => g.send_sgi(
            intid,
            SgiTargetV2::List {
                target_list_filter: SgiTargetListFilter::ForwardSelfOnly,
                target_list: 0,
            },
        ),
        Driver::V3(..) => send_sgi_v3(intid, SGI_TARGET[cpu_index()].load(Ordering::Relaxed)),
    })
}

/// A GICv3 SGI to the CPU whose affinity is `target` (see [`SGI_TARGET`]).
fn send_sgi_v3(intid: IntId, target: u64) {
    GicCpuInterface::send_sgi(
        intid,
        SgiTargetV3::List {
            affinity3: (target >> 32) as u8,
            affinity2: (target >> 16) as u8,
            affinity1: (target >> 8) as u8,
            target_list: 1 << (target & 0xf),
        },
        SgiTargetGroup::CurrentGroup1,
    )
    .expect("an SGI")
}

/// Interrupts acknowledged since boot.
pub fn acknowledged() -> u64 {
    ACKNOWLEDGED.load(Ordering::Relaxed)
}

/// Interrupts acknowledged that had no handler.
pub fn unhandled() -> u64 {
    UNHANDLED.load(Ordering::Relaxed)
}

/// Acknowledges the highest-priority pending interrupt, if any.
fn acknowledge() -> Option<IntId> {
    let mut gic = GIC.lock();
    match gic.as_mut()? {
        Driver::V2(g, _) => g.get_and_acknowledge_interrupt(InterruptGroup::Group0),
        Driver::V3(..) => GicCpuInterface::get_and_acknowledge_interrupt(InterruptGroup::Group1),
    }
}

fn end_of_interrupt(intid: IntId) {
    let mut gic = GIC.lock();
    match gic.as_mut() {
        Some(Driver::V2(g, _)) => g.end_interrupt(intid, InterruptGroup::Group0),
        Some(Driver::V3(..)) => GicCpuInterface::end_interrupt(intid, InterruptGroup::Group1),
        None => {}
    }
}

/// The IRQ vector's work: acknowledge → handler → end of interrupt, until
/// nothing is pending. Runs with IRQs masked; handlers must not unmask them.
pub fn handle_irq() {
    while let Some(intid) = acknowledge() {
        let raw = match version() {
            2 => intid.raw_value() & GICV2_IAR_INTID_MASK,
            _ => intid.raw_value(),
        } as usize;
        if raw >= INTID_LIMIT {
            // A special INTID (1020–1022): nothing was acknowledged, no EOI.
            break;
        }
        ACKNOWLEDGED.fetch_add(1, Ordering::Relaxed);
        let handler = HANDLERS.lock()[raw];
        match handler {
            Some(h) => h(intid),
            None => {
                // Nobody wants it: keep a level-triggered source from
                // firing forever.
                UNHANDLED.fetch_add(1, Ordering::Relaxed);
                disable(intid);
            }
        }
        end_of_interrupt(intid);
    }
}
