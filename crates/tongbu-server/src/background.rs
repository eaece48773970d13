//! The server's background tasks (the timetable, health sampling, audience counts, certificate
//! reloads), by name. Each runs as long as the server; one that ends or panics stops the server
//! with its name rather than leaving it half alive (a timetable that no longer opens sessions,
//! health that no longer updates), so that systemd or the container restarts it whole. Dropping
//! the set stops them all.

use std::collections::HashMap;
use std::future::Future;

use tokio::task::{Id, JoinSet};

#[derive(Default)]
pub struct Background {
    set: JoinSet<()>,
    names: HashMap<Id, &'static str>,
}

impl Background {
    /// Runs `task`, known as `name`.
    pub fn spawn(&mut self, name: &'static str, task: impl Future<Output = ()> + Send + 'static) {
        let handle = self.set.spawn(task);
        self.names.insert(handle.id(), name);
    }

    fn name(&self, id: Id) -> &'static str {
        self.names.get(&id).copied().unwrap_or("a background task")
    }

    /// Waits until a task ends; says which and how. Never resolves while there are none.
    pub async fn ended(&mut self) -> String {
        match self.set.join_next_with_id().await {
            Some(Ok((id, ()))) => format!("{} ended", self.name(id)),
            Some(Err(e)) if e.is_panic() => format!("{} panicked", self.name(e.id())),
            Some(Err(e)) => format!("{} stopped: {e}", self.name(e.id())),
            None => std::future::pending().await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn a_task_that_panics_or_ends_is_named() {
        let mut b = Background::default();
        b.spawn("the timetable", std::future::pending());
        b.spawn("health sampling", async {
            tokio::time::sleep(Duration::from_millis(10)).await;
            panic!("a bug");
        });
        assert_eq!(b.ended().await, "health sampling panicked");
        b.spawn("audience counts", async {});
        assert_eq!(b.ended().await, "audience counts ended");
        // The one still running keeps `ended` waiting.
        let waited = tokio::time::timeout(Duration::from_millis(50), b.ended()).await;
        assert!(waited.is_err());
    }
}
