//! The room audit: every IVS Chat room's review handler, fallback, logging, limits, name
//! and age, checked against the audit policy on an EventBridge schedule (or once, from
//! the command line: `room-audit --help`). Configuration: `chat_audit::app`.

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::process::ExitCode {
    chat_audit::app::main(chat_audit::Scope::Rooms).await
}
