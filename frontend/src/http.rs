//! Talking to the API: JSON in, JSON out, and every failure as one sentence for people (the
//! server's `{"error": {"message"}}` when it sent one).

use fluxboard_model::api::ErrorBody;
use serde::de::DeserializeOwned;

/// GETs `url` (relative to the base path) as JSON.
pub(crate) async fn get_json<T: DeserializeOwned>(url: &str) -> Result<T, String> {
    let res = gloo_net::http::Request::get(url).send().await.map_err(|e| format!("cannot reach fluxboard: {e}"))?;
    answer(res).await
}

/// POSTs `body` as JSON to `url`; `None` for an answer without a body (204).
pub(crate) async fn post_json<T: DeserializeOwned>(url: &str, body: &serde_json::Value) -> Result<Option<T>, String> {
    let res = gloo_net::http::Request::post(url)
        .header("content-type", "application/json")
        .body(body.to_string())
        .map_err(|e| e.to_string())?
        .send()
        .await
        .map_err(|e| format!("cannot reach fluxboard: {e}"))?;
    if res.status() == 204 {
        return Ok(None);
    }
    answer(res).await.map(Some)
}

async fn answer<T: DeserializeOwned>(res: gloo_net::http::Response) -> Result<T, String> {
    if res.ok() {
        return res.json::<T>().await.map_err(|e| format!("unreadable answer: {e}"));
    }
    match res.json::<ErrorBody>().await {
        Ok(body) => Err(body.error.message),
        Err(_) => Err(format!("fluxboard answered {}", res.status())),
    }
}
