//! nsqd's health: the last backend write error, if the most recent write failed (BEH-200).

use parking_lot::Mutex;

#[derive(Default)]
pub struct Health {
    last_error: Mutex<Option<String>>,
}

impl Health {
    pub fn record(&self, result: Result<(), &str>) {
        let mut last = self.last_error.lock();
        match result {
            Ok(()) => {
                if last.is_some() {
                    *last = None;
                }
            }
            Err(e) => *last = Some(e.to_string()),
        }
    }

    pub fn is_healthy(&self) -> bool {
        self.last_error.lock().is_none()
    }

    /// `OK` or `NOK - <error>`, as `/ping` and `/stats` print it.
    pub fn status(&self) -> String {
        match &*self.last_error.lock() {
            None => "OK".to_string(),
            Some(e) => format!("NOK - {e}"),
        }
    }
}
