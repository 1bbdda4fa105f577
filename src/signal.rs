//! SIGTERM and SIGINT, through tokio (which builds on signal-hook-registry).
//! Handlers are installed first thing, so that as PID 1 in a container, where
//! the kernel ignores signals without a handler, `docker stop` still works.

use tokio::sync::watch;

use crate::error::Signal;

/// A handle every long wait selects on. Cloning is cheap.
#[derive(Clone)]
pub struct Interrupt(watch::Receiver<Option<Signal>>);

impl Interrupt {
    /// Installs the handlers. Must be called inside the tokio runtime.
    pub fn install() -> std::io::Result<Interrupt> {
        use tokio::signal::unix::{signal, SignalKind};
        let (tx, rx) = watch::channel(None);
        let mut term = signal(SignalKind::terminate())?;
        let mut int = signal(SignalKind::interrupt())?;
        tokio::spawn(async move {
            let sig = tokio::select! {
                _ = term.recv() => Signal::Terminate,
                _ = int.recv() => Signal::Interrupt,
            };
            let _ = tx.send(Some(sig));
            // Keep the handlers (and the sender) alive: a second signal must
            // not fall back to the default action mid-rollback.
            loop {
                tokio::select! { _ = term.recv() => {}, _ = int.recv() => {} }
            }
        });
        Ok(Interrupt(rx))
    }

    /// A handle that never fires.
    pub fn never() -> Interrupt {
        let (tx, rx) = watch::channel(None);
        std::mem::forget(tx);
        Interrupt(rx)
    }

    pub fn fired(&self) -> Option<Signal> {
        *self.0.borrow()
    }

    /// Sleeps for `delay`, or returns the signal that cut it short.
    pub async fn sleep(&self, delay: std::time::Duration) -> Result<(), Signal> {
        tokio::select! {
            _ = tokio::time::sleep(delay) => Ok(()),
            sig = self.recv() => Err(sig),
        }
    }

    /// Resolves when a signal has arrived (at once if one already has).
    pub async fn recv(&self) -> Signal {
        let mut rx = self.0.clone();
        loop {
            if let Some(sig) = *rx.borrow_and_update() {
                return sig;
            }
            if rx.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }
}
