//! The rule-based IVS Chat review handler: builds its policy once at init, then reviews
//! every message IVS sends. Configuration: see the crate docs (environment variables).

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let (reviewer, config) = match rule_review_handler::from_env(|k| std::env::var(k).ok()) {
        Ok(built) => built,
        Err(e) => return Err(ivs_chat_review::report_init_error(e).await),
    };
    ivs_chat_review::run(reviewer, config).await
}
