//! Waiting on signals with deadlines.
