//! A local anvil process (the devnet's L1 and the end-to-end tests'): started on a free
//! port, waited for until it answers, killed when dropped.

use crate::L1Error;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long anvil may take to answer after it is started.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(20);

/// A running anvil; dropping it kills the process.
#[derive(Debug)]
pub struct Anvil {
    child: Child,
    port: u16,
}

/// The anvil binary installed by `scripts/setup-tools.sh` under `root` (the repository),
/// unless `STRADDLE_ANVIL` names another.
pub fn anvil_binary(root: &Path) -> PathBuf {
    std::env::var_os("STRADDLE_ANVIL")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("tools/node_modules/.bin/anvil"))
}

/// A TCP port that was free a moment ago.
pub fn free_port() -> Result<u16, L1Error> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .map_err(L1Error::rpc)
}

impl Anvil {
    /// Starts `binary` on `port` (0: a free one) with `extra` arguments and waits until it
    /// accepts connections. `--block-time` and the like come in `extra`.
    pub fn start(binary: &Path, port: u16, extra: &[&str]) -> Result<Anvil, L1Error> {
        Anvil::start_logged(binary, port, extra, None)
    }

    /// [`Anvil::start`] with anvil's errors appended to `log` (else to stderr), in a
    /// process group of its own, so that a Ctrl-C meant for the parent does not stop it
    /// before the parent has stopped what depends on it.
    pub fn start_logged(
        binary: &Path,
        port: u16,
        extra: &[&str],
        log: Option<&Path>,
    ) -> Result<Anvil, L1Error> {
        if port != 0 {
            return Anvil::start_on(binary, port, extra, log);
        }
        // A port that was free a moment ago may be taken before anvil binds it (tests
        // start servers in parallel): try a few.
        let mut last = None;
        for _ in 0..5 {
            match Anvil::start_on(binary, free_port()?, extra, log) {
                Ok(anvil) => return Ok(anvil),
                Err(error) => last = Some(error),
            }
        }
        Err(last.unwrap_or_else(|| L1Error::Rpc("anvil did not start".into())))
    }

    fn start_on(
        binary: &Path,
        port: u16,
        extra: &[&str],
        log: Option<&Path>,
    ) -> Result<Anvil, L1Error> {
        use std::os::unix::process::CommandExt;
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Err(L1Error::Rpc(format!(
                "port {port} is already in use (another anvil or devnet?)"
            )));
        }
        let mut command = Command::new(binary);
        command
            .args(["--port", &port.to_string(), "--silent"])
            .args(extra)
            .stdin(Stdio::null())
            .process_group(0);
        match log {
            Some(path) => {
                let file = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .map_err(|e| L1Error::Rpc(format!("cannot open {}: {e}", path.display())))?;
                let copy = file
                    .try_clone()
                    .map_err(|e| L1Error::Rpc(format!("cannot open {}: {e}", path.display())))?;
                command.stdout(file).stderr(copy);
            }
            None => {
                command.stdout(Stdio::null()).stderr(Stdio::inherit());
            }
        }
        let child = command
            .spawn()
            .map_err(|e| L1Error::Rpc(format!("cannot start {}: {e}", binary.display())))?;
        let mut anvil = Anvil { child, port };
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = anvil.child.try_wait() {
                return Err(L1Error::Rpc(format!("anvil exited at startup: {status}")));
            }
            if started.elapsed() > STARTUP_TIMEOUT {
                return Err(L1Error::Rpc("anvil did not start listening".into()));
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        Ok(anvil)
    }

    /// Its HTTP endpoint.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Its port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Stops it (also done on drop).
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Anvil {
    fn drop(&mut self) {
        self.stop();
    }
}
