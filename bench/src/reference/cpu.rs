//! CPU time of this process (every thread: the minimal server's and the clients') plus its
//! waited-for children (curl), from `/proc/self/stat`: a figure that load on the other cores
//! moves much less than wall-clock time. Resolution: one clock tick (10 ms on Linux).

use std::time::{Duration, Instant};

/// Clock ticks per second of `/proc` times (`USER_HZ`, 100 on Linux).
const TICKS_PER_S: u64 = 100;

/// `utime + stime + cutime + cstime` of this process, `None` without `/proc`.
pub fn process_cpu() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which may hold spaces): state is field 3, utime 14,
    // stime 15, cutime 16, cstime 17.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let mut ticks = 0u64;
    for i in 11..=14 {
        ticks += fields.get(i)?.parse::<u64>().ok()?;
    }
    Some(Duration::from_millis(ticks * 1000 / TICKS_PER_S))
}

/// One timed transfer: wall-clock time and the CPU the process (and children) used meanwhile.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    /// Wall-clock time.
    pub took: Duration,
    /// CPU time, `None` without `/proc`.
    pub cpu: Option<Duration>,
}

/// Starts a measurement.
#[derive(Debug)]
pub struct Stopwatch {
    started: Instant,
    cpu: Option<Duration>,
}

impl Stopwatch {
    /// Now.
    pub fn start() -> Self {
        Self {
            cpu: process_cpu(),
            started: Instant::now(),
        }
    }

    /// The time and CPU since [`Stopwatch::start`].
    pub fn stop(&self) -> Sample {
        let took = self.started.elapsed();
        let cpu = process_cpu()
            .zip(self.cpu)
            .map(|(now, then)| now.saturating_sub(then));
        Sample { took, cpu }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_this_process() {
        let a = process_cpu().expect("/proc/self/stat");
        let w = Stopwatch::start();
        let mut x = 0u64;
        for i in 0..20_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
        assert_ne!(std::hint::black_box(x), 1);
        let s = w.stop();
        assert!(process_cpu().expect("again") >= a);
        assert!(s.cpu.is_some());
    }
}
