//! The process pool's child on its own (`dq worker-child` is the same).

fn main() -> std::process::ExitCode {
    dq_worker::child_main()
}
