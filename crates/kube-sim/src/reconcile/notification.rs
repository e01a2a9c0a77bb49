//! notification-controller: a Receiver gets its webhook path (Alerts and Providers are static).

use serde_json::json;

use super::{Run, hex_digest};

impl Run<'_> {
    pub(super) fn receiver(&mut self) {
        let secret = self.obj["spec"]["secretRef"]["name"].as_str().unwrap_or_default();
        let path = format!("/hook/{}", hex_digest(&format!("{secret}{}{}", self.name(), self.namespace())));
        self.outcome.status["webhookPath"] = json!(path);
        self.succeed("Succeeded", &format!("Receiver initialized for path: {path}"), None);
    }
}
