//! CPU time and resident memory of a process, from `/proc/<pid>/stat` and `/proc/<pid>/status`.

use std::time::Instant;

/// A reading of one process's CPU time.
#[derive(Debug, Clone, Copy)]
pub struct CpuSample {
    /// User plus system CPU seconds since the process started.
    pub cpu_s: f64,
    /// Of which system (kernel) seconds: on loopback this includes the receivers' half of
    /// every datagram's kernel path, which a real NIC would put on their machines.
    pub sys_s: f64,
    pub at: Instant,
}

/// Reads the CPU time of `pid` (`None`: this process).
pub fn cpu(pid: Option<u32>) -> Option<CpuSample> {
    let path = match pid {
        Some(p) => format!("/proc/{p}/stat"),
        None => "/proc/self/stat".to_string(),
    };
    let text = std::fs::read_to_string(path).ok()?;
    let (user, sys) = parse_stat_cpu(&text)?;
    Some(CpuSample {
        cpu_s: (user + sys) as f64 / clock_ticks(),
        sys_s: sys as f64 / clock_ticks(),
        at: Instant::now(),
    })
}

/// System (kernel) CPU seconds per wall-clock second between two readings.
pub fn sys_per_second(a: CpuSample, b: CpuSample) -> f64 {
    let wall = b.at.duration_since(a.at).as_secs_f64();
    if wall <= 0.0 {
        return 0.0;
    }
    (b.sys_s - a.sys_s) / wall
}

/// CPU seconds per wall-clock second between two readings.
pub fn cpu_per_second(a: CpuSample, b: CpuSample) -> f64 {
    let wall = b.at.duration_since(a.at).as_secs_f64();
    if wall <= 0.0 {
        return 0.0;
    }
    (b.cpu_s - a.cpu_s) / wall
}

/// Resident set size of `pid` in MiB (`None`: this process).
pub fn rss_mib(pid: Option<u32>) -> Option<f64> {
    let path = match pid {
        Some(p) => format!("/proc/{p}/status"),
        None => "/proc/self/status".to_string(),
    };
    let text = std::fs::read_to_string(path).ok()?;
    parse_status_rss_kib(&text).map(|k| k as f64 / 1024.0)
}

/// utime and stime (fields 14 and 15, in clock ticks) of a `/proc/<pid>/stat` line. The
/// command name (field 2) may hold spaces and parentheses, so fields are counted after its last
/// ')'.
fn parse_stat_cpu(stat: &str) -> Option<(u64, u64)> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut f = rest.split_whitespace();
    // `rest` starts at field 3 (state); utime is field 14.
    let utime: u64 = f.nth(11)?.parse().ok()?;
    let stime: u64 = f.next()?.parse().ok()?;
    Some((utime, stime))
}

fn parse_status_rss_kib(status: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|n| n.parse().ok())
}

fn clock_ticks() -> f64 {
    // SAFETY: sysconf has no preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 {
        t as f64
    } else {
        100.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_are_counted_after_the_command_name() {
        let line = "4242 (tongbu (srv) x) S 1 4242 4242 0 -1 4194560 900 0 0 0 1234 567 0 0 20 0 9 0 100 1000000 5000";
        assert_eq!(parse_stat_cpu(line), Some((1234, 567)));
        assert_eq!(parse_stat_cpu("garbage"), None);
    }

    #[test]
    fn rss_from_status_and_this_process_is_readable() {
        assert_eq!(
            parse_status_rss_kib("Name:\tx\nVmRSS:\t  20480 kB\nThreads: 3\n"),
            Some(20480)
        );
        assert!(rss_mib(None).is_some_and(|m| m > 0.0));
        let a = cpu(None).unwrap();
        let mut x = 0u64;
        for i in 0..3_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
        std::hint::black_box(x);
        let b = cpu(None).unwrap();
        assert!(b.cpu_s >= a.cpu_s);
    }
}
