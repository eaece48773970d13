//! WHIP's and WHEP's one exchange: the client's SDP offer POSTed with a bearer token, the
//! server's answer back with the stream's resource (`Location`), which a `DELETE` ends.

use crate::ClientError;

/// POSTs `offer` to `endpoint` with `token`; returns the answer and the resource's absolute URL.
/// A refusal is [`ClientError::Http`] with the status and the server's words.
pub(crate) async fn post_offer(
    endpoint: &str,
    token: &str,
    offer: String,
) -> Result<(String, String), ClientError> {
    let res = reqwest::Client::new()
        .post(endpoint)
        .bearer_auth(token)
        .header("content-type", "application/sdp")
        .body(offer)
        .send()
        .await
        .map_err(|e| ClientError::Refused(e.to_string()))?;
    let status = res.status().as_u16();
    let location = res
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .map(String::from);
    let body = res.text().await.unwrap_or_default();
    if status != 201 {
        return Err(ClientError::Http(status, body));
    }
    let resource = location
        .and_then(|l| reqwest::Url::parse(endpoint).and_then(|b| b.join(&l)).ok())
        .ok_or_else(|| ClientError::Refused("201 without a usable Location".into()))?
        .to_string();
    Ok((body, resource))
}

/// Ends the resource (`DELETE` with the token); what the server answers does not matter here.
pub(crate) async fn delete(resource: &str, token: &str) {
    let _ = reqwest::Client::new()
        .delete(resource)
        .bearer_auth(token)
        .send()
        .await;
}
