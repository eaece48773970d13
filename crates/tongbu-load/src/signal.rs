//! The signaling connection of a test client: JSON over a WebSocket, as a browser speaks it.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use tongbu_signal::{ClientMessage, ServerMessage, PROTOCOL_VERSION};

/// Errors of the signaling connection.
#[derive(Debug, thiserror::Error)]
pub enum SignalError {
    #[error("cannot connect to {url}: {reason}")]
    Connect { url: String, reason: String },
    #[error("the server closed the signaling connection")]
    Closed,
    #[error("no message from the server within {0:?}")]
    Timeout(Duration),
    #[error("server error {code:?}: {message}")]
    Server {
        code: tongbu_signal::ErrorCode,
        message: String,
    },
}

/// One signaling connection. Messages are read by a background task, so none are lost while the
/// owner is busy.
#[derive(Debug)]
pub struct SignalClient {
    out: mpsc::UnboundedSender<Message>,
    incoming: mpsc::UnboundedReceiver<ServerMessage>,
}

impl SignalClient {
    /// Opens `ws_url` (for example `ws://127.0.0.1:8080/ws?token=…`).
    pub async fn connect(ws_url: &str) -> Result<Self, SignalError> {
        let (ws, _) = tokio_tungstenite::connect_async(ws_url)
            .await
            .map_err(|e| SignalError::Connect {
                url: ws_url.to_string(),
                reason: e.to_string(),
            })?;
        let (mut sink, mut stream) = ws.split();
        let (out, mut out_rx) = mpsc::unbounded_channel::<Message>();
        let (in_tx, incoming) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Some(m) = out_rx.recv().await {
                if sink.send(m).await.is_err() {
                    break;
                }
            }
            let _ = sink.close().await;
        });
        tokio::spawn(async move {
            while let Some(Ok(m)) = stream.next().await {
                if let Message::Text(t) = m {
                    match serde_json::from_str::<ServerMessage>(t.as_str()) {
                        Ok(msg) => {
                            if in_tx.send(msg).is_err() {
                                break;
                            }
                        }
                        Err(e) => tracing::warn!("unparsable server message {t}: {e}"),
                    }
                }
            }
        });
        Ok(Self { out, incoming })
    }

    /// Sends a message.
    pub fn send(&self, msg: &ClientMessage) {
        if let Ok(text) = serde_json::to_string(msg) {
            self.send_raw(text);
        }
    }

    /// A handle that sends on this connection, kept when the client is handed to a task.
    pub fn sender(&self) -> SignalSender {
        SignalSender(self.out.clone())
    }

    /// Sends any text frame, valid or not.
    pub fn send_raw(&self, text: impl Into<String>) {
        let _ = self.out.send(Message::Text(text.into().into()));
    }

    /// Sends a binary frame.
    pub fn send_binary(&self, data: Vec<u8>) {
        let _ = self.out.send(Message::Binary(data.into()));
    }

    /// Closes the connection.
    pub fn close(&self) {
        let _ = self.out.send(Message::Close(None));
    }

    /// The next message from the server.
    pub async fn recv(&mut self, within: Duration) -> Result<ServerMessage, SignalError> {
        match tokio::time::timeout(within, self.incoming.recv()).await {
            Ok(Some(m)) => Ok(m),
            Ok(None) => Err(SignalError::Closed),
            Err(_) => Err(SignalError::Timeout(within)),
        }
    }

    /// Waits for the first message that `pick` accepts, skipping others.
    pub async fn recv_until<T>(
        &mut self,
        within: Duration,
        mut pick: impl FnMut(&ServerMessage) -> Option<T>,
    ) -> Result<T, SignalError> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let m = self.recv(left).await?;
            if let Some(t) = pick(&m) {
                return Ok(t);
            }
        }
    }

    /// Sends `join` and waits for `joined` (or the server's error).
    pub async fn join(&mut self) -> Result<ServerMessage, SignalError> {
        self.send(&ClientMessage::Join {
            version: PROTOCOL_VERSION,
        });
        loop {
            match self.recv(Duration::from_secs(10)).await? {
                m @ ServerMessage::Joined { .. } => return Ok(m),
                ServerMessage::Error { code, message } => {
                    return Err(SignalError::Server { code, message })
                }
                _ => continue,
            }
        }
    }

    /// Splits off the receiving half (for a task that handles incoming messages).
    pub fn into_parts(
        self,
    ) -> (
        mpsc::UnboundedSender<Message>,
        mpsc::UnboundedReceiver<ServerMessage>,
    ) {
        (self.out, self.incoming)
    }
}

/// Sends on a [`SignalClient`]'s connection from elsewhere ([`SignalClient::sender`]).
#[derive(Debug, Clone)]
pub struct SignalSender(mpsc::UnboundedSender<Message>);

impl SignalSender {
    /// Sends a message.
    pub fn send(&self, msg: &ClientMessage) {
        if let Ok(text) = serde_json::to_string(msg) {
            let _ = self.0.send(Message::Text(text.into()));
        }
    }
}
