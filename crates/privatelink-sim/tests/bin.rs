//! The `privatelink-sim` binary as a child process: address line, --port-file, --world, SIGTERM.

use std::{
    io::{BufRead, BufReader},
    process::{Command, Stdio},
    time::{Duration, Instant},
};

/// Kills the child if the test fails before it is stopped.
struct Guard(std::process::Child);
impl Drop for Guard {
    fn drop(&mut self) {
        if self.0.try_wait().ok().flatten().is_none() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

#[test]
fn binary_prints_address_writes_port_file_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let port_file = dir.path().join("port");
    let world = dir.path().join("world.yaml");
    std::fs::write(
        &world,
        "accounts: [{id: '1'}]\naccessKeys: [{id: ak, secret: sk, accountId: '1'}]\n\
         regions: [{id: cn-hangzhou, zones: [cn-hangzhou-h]}]\nserviceQuota: 7\n",
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_privatelink-sim"))
        .args(["--listen", "127.0.0.1:0", "--create-seconds", "0.5", "--log-level", "warn"])
        .arg("--port-file")
        .arg(&port_file)
        .arg("--world")
        .arg(&world)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut child = Guard(child);
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    let port: u16 = line
        .trim()
        .strip_prefix("privatelink-sim listening on http://127.0.0.1:")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .parse()
        .unwrap();
    assert_eq!(std::fs::read_to_string(&port_file).unwrap(), port.to_string());

    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let cfg: serde_json::Value = rt.block_on(async {
        let base = format!("http://127.0.0.1:{port}/_sim");
        let ok = reqwest::get(format!("{base}/healthz")).await.unwrap().text().await.unwrap();
        assert_eq!(ok, "ok");
        reqwest::get(format!("{base}/config")).await.unwrap().json().await.unwrap()
    });
    assert_eq!(cfg["serviceQuota"], 7);
    assert_eq!(cfg["createSeconds"], 0.5);

    let status = Command::new("kill").args(["-TERM", &child.0.id().to_string()]).status().unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if let Some(st) = child.0.try_wait().unwrap() {
            assert!(st.success(), "exit status {st}");
            break;
        }
        if Instant::now() > deadline {
            panic!("sim did not exit on SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
