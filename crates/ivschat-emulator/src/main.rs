//! Runs the local IVS Chat endpoint with a seeded fleet, for local runs of the audit
//! functions (`cargo lambda watch` + `cargo lambda invoke`, or their command-line mode).
//!
//! ```text
//! cargo run -p ivschat-emulator -- --port 4510 --rooms 500
//! ```

use ivschat_emulator::{ACCOUNT, Emulator, REGION};

const USAGE: &str = "usage: ivschat-emulator [--port N (4510)] [--rooms N (200)] [--approved-handler ARN] [--room-tps TPS] [--tag-tps TPS]";

fn main() -> std::process::ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("ivschat-emulator: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(serve(std::env::args().skip(1).collect())) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ivschat-emulator: {e}\n{USAGE}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn serve(args: Vec<String>) -> Result<(), String> {
    let mut port = 4510u16;
    let mut rooms = 200u64;
    let mut handler = format!("arn:aws:lambda:{REGION}:{ACCOUNT}:function:rule-review-handler");
    let mut builder = Emulator::builder();
    let mut it = args.into_iter();
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        let bad = |v: &str| format!("{flag}: {v:?} is not valid");
        match flag.as_str() {
            "--port" => {
                let v = value()?;
                port = v.parse().map_err(|_| bad(&v))?;
            }
            "--rooms" => {
                let v = value()?;
                rooms = v.parse().map_err(|_| bad(&v))?;
            }
            "--approved-handler" => handler = value()?,
            "--room-tps" => {
                let v = value()?;
                builder = builder.room_tps(v.parse().map_err(|_| bad(&v))?);
            }
            "--tag-tps" => {
                let v = value()?;
                builder = builder.tag_tps(v.parse().map_err(|_| bad(&v))?);
            }
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(());
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    let emu = builder
        .port(port)
        .start()
        .await
        .map_err(|e| e.to_string())?;
    emu.seed_fleet(rooms, &handler);
    println!(
        "IVS Chat endpoint {} with {rooms} rooms (account {ACCOUNT}, region {REGION}, approved handler {handler})",
        emu.endpoint_url()
    );
    println!(
        "point the audit functions at it: AWS_ENDPOINT_URL_IVSCHAT={}",
        emu.endpoint_url()
    );
    std::future::pending::<()>().await;
    Ok(())
}
