//! The tag audit: every IVS Chat room's tags, checked against the audit policy on an
//! EventBridge schedule (or once, from the command line: `tag-audit --help`).
//! Configuration: `chat_audit::app`.

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::process::ExitCode {
    chat_audit::app::main(chat_audit::Scope::Tags).await
}
