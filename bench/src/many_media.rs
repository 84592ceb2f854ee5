//! Placeholder of a stage being written (issue 18); replaced by its real rows.

use crate::environment::Environment;
use crate::report::{Report, Row, Target};

/// The row ids this stage produces.
pub const ROWS: &[&str] = &[];

/// This stage's rows.
pub fn rows(_env: &Environment) -> Vec<Row> {
    Vec::new()
}

/// This stage's targets.
pub fn targets(_report: &Report) -> Vec<Target> {
    Vec::new()
}

/// The first argument that makes `wa-media-bench` the child of this stage.
pub const CHILD_ARG: &str = "--many-media-child";

/// The child process of this stage.
pub fn child(_args: &[String]) -> Result<(), String> {
    Err("not written yet".into())
}
