//! The HTTP server: hyper in, the shared request entry point
//! ([`sentinel_core::host::Host::handle`]) out. It reads the body up to
//! the shared cap and converts types; nothing else.

use crate::clock::now_ms;
use crate::store::RedbStore;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use sentinel_core::host::{self, Host, MAX_BODY};
use sentinel_native::{ReqwestOutbound, TokioTimer};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

/// The host as the local shell instantiates it.
pub type LocalHost = Host<Arc<RedbStore>, ReqwestOutbound, TokioTimer>;

/// Accepts connections until the task is aborted.
pub async fn serve(listener: TcpListener, host: Arc<LocalHost>) {
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let host = host.clone();
        tokio::spawn(async move {
            let svc = hyper::service::service_fn(move |req| {
                let host = host.clone();
                async move { Ok::<_, std::convert::Infallible>(handle(req, &host).await) }
            });
            if let Err(e) = hyper::server::conn::http1::Builder::new()
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), svc)
                .await
            {
                tracing::debug!(error = %e, "connection ended");
            }
        });
    }
}

async fn handle(req: Request<Incoming>, host: &LocalHost) -> Response<Full<Bytes>> {
    let (parts, body) = req.into_parts();
    let resp = match Limited::new(body, MAX_BODY).collect().await {
        Ok(b) => {
            let req = Request::from_parts(parts, b.to_bytes().to_vec());
            host.handle(req, now_ms()).await
        }
        Err(_) => host::to_http(host::too_large()),
    };
    resp.map(|b| Full::new(Bytes::from(b)))
}
