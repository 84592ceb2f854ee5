//! A `wa-media` process running in the background: signalled by the test, waited for with a
//! bound, and killed if the test ends first (a failed assertion included).

use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

/// Polls `done` every `step` until it holds or `timeout` passes; whether it held.
pub fn wait_until(timeout: Duration, step: Duration, mut done: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    loop {
        if done() {
            return true;
        }
        if start.elapsed() >= timeout {
            return false;
        }
        std::thread::sleep(step);
    }
}

/// A child process, killed and reaped on drop unless [`Running::wait_output`] collected it.
pub struct Running {
    child: Option<Child>,
}

impl Running {
    /// Starts `cmd` with stdin closed and stdout and stderr captured.
    pub fn spawn(cmd: &mut Command) -> Self {
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        Running { child: Some(child) }
    }

    /// Reads the first line the process prints on stdout (blocking), taking its stdout: later
    /// lines are not read (the process must not print more than a pipe holds).
    pub fn first_stdout_line(&mut self) -> String {
        use std::io::BufRead as _;
        let out = self
            .child
            .as_mut()
            .unwrap()
            .stdout
            .take()
            .expect("stdout captured");
        let mut line = String::new();
        std::io::BufReader::new(out).read_line(&mut line).unwrap();
        line
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    /// The exit status, if the process has already ended.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.as_mut().unwrap().try_wait().unwrap()
    }

    /// Sends a signal by name (`INT`, `TERM`) with `kill(1)`.
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.pid().to_string())
            .status()
            .unwrap();
        assert!(status.success(), "kill -{name} {} failed", self.pid());
    }

    /// Waits at most `timeout` for the process to end, then returns everything it printed.
    /// Panics (after killing it) when it is still running.
    pub fn wait_output(mut self, timeout: Duration) -> Output {
        let ended = wait_until(timeout, Duration::from_millis(20), || {
            self.exited().is_some()
        });
        if !ended {
            let mut child = self.child.take().unwrap();
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "wa-media still ran {timeout:?} later (killed); stderr:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        self.child.take().unwrap().wait_with_output().unwrap()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
