// L14: legitimate Rust: std threads (glibc tries clone3, gets ENOSYS and
// falls back to clone) and a child process.
use std::process::Command;
use std::thread;

fn main() {
    let handles: Vec<_> = (0..8u64)
        .map(|k| thread::spawn(move || (0..=100000u64).map(|j| j % (k + 1)).sum::<u64>()))
        .collect();
    let sum: u64 = handles.into_iter().map(|h| h.join().unwrap()).sum();
    println!("threads=8 sum={}", sum);
    let out = Command::new("sh").arg("-c").arg("echo child $(id -u)").output().unwrap();
    print!("{}", String::from_utf8_lossy(&out.stdout));
    println!("child status: {}", out.status.code().unwrap_or(-1));
}
