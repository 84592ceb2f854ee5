//! [`open_store`]: a store URL (`s3://bucket/prefix`, …) to a store and a prefix.

use std::sync::Arc;

use object_store::path::Path;
use object_store::ObjectStore;

use crate::error::StoreError;

/// Where [`open_store`] opened: the store and the prefix under which keys go.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct StoreUrl {
    /// The store.
    pub store: Arc<dyn ObjectStore>,
    /// The prefix from the URL's path (may be empty).
    pub prefix: Path,
}

/// Opens a store from a URL, with credentials and settings from the environment as
/// object_store's `from_env` builders read them:
///
/// | URL | store | feature | environment |
/// | --- | --- | --- | --- |
/// | `s3://bucket/prefix` | Amazon S3 or an S3-compatible server | `aws` | `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_REGION`, `AWS_ENDPOINT`, … |
/// | `gs://bucket/prefix` | Google Cloud Storage | `gcp` | `GOOGLE_SERVICE_ACCOUNT`, `GOOGLE_APPLICATION_CREDENTIALS`, … |
/// | `az://container/prefix` | Azure Blob Storage | `azure` | `AZURE_STORAGE_ACCOUNT_NAME`, `AZURE_STORAGE_ACCOUNT_KEY`, … |
/// | `file:///dir/prefix` | a local directory | `fs` | — |
/// | `memory://` | in memory (tests) | — | — |
///
/// `endpoint` overrides the service's endpoint (an S3-compatible server such as MinIO or
/// moto); an `http://` endpoint allows plain HTTP. The cloud stores use [`crate::HyperConnector`].
pub fn open_store(url: &str, endpoint: Option<&str>) -> Result<StoreUrl, StoreError> {
    let (scheme, rest) = url.split_once("://").ok_or_else(|| {
        StoreError::Config(format!(
            "{url:?} is not a store URL (s3://bucket/prefix, file:///dir, …)"
        ))
    })?;
    let (bucket, prefix) = match rest.split_once('/') {
        Some((b, p)) => (b, p.trim_matches('/')),
        None => (rest, ""),
    };
    let prefix = Path::parse(prefix)
        .map_err(|e| StoreError::Config(format!("the prefix in {url:?}: {e}")))?;
    let bad = |e: object_store::Error| StoreError::Config(format!("{url}: {e}"));
    let need_bucket = || {
        if bucket.is_empty() {
            Err(StoreError::Config(format!("{url:?} names no bucket")))
        } else {
            Ok(())
        }
    };
    let _ = (&bad, &need_bucket, endpoint);
    let store: Arc<dyn ObjectStore> = match scheme {
        #[cfg(feature = "aws")]
        "s3" | "s3a" => {
            need_bucket()?;
            let mut b = object_store::aws::AmazonS3Builder::from_env()
                .with_bucket_name(bucket)
                .with_http_connector(crate::HyperConnector::default());
            if let Some(ep) = endpoint {
                b = b
                    .with_endpoint(ep)
                    .with_allow_http(ep.starts_with("http://"));
            }
            Arc::new(b.build().map_err(bad)?)
        }
        #[cfg(feature = "gcp")]
        "gs" => {
            need_bucket()?;
            let b = object_store::gcp::GoogleCloudStorageBuilder::from_env()
                .with_bucket_name(bucket)
                .with_http_connector(crate::HyperConnector::default());
            if endpoint.is_some() {
                return Err(StoreError::Config(
                    "an endpoint override is supported for s3:// and az:// only".into(),
                ));
            }
            Arc::new(b.build().map_err(bad)?)
        }
        #[cfg(feature = "azure")]
        "az" | "azure" | "abfs" => {
            need_bucket()?;
            let mut b = object_store::azure::MicrosoftAzureBuilder::from_env()
                .with_container_name(bucket)
                .with_http_connector(crate::HyperConnector::default());
            if let Some(ep) = endpoint {
                b = b
                    .with_endpoint(ep.to_owned())
                    .with_allow_http(ep.starts_with("http://"));
            }
            Arc::new(b.build().map_err(bad)?)
        }
        #[cfg(feature = "fs")]
        "file" => {
            // file:///dir: `bucket` is empty and the whole path is the directory.
            let dir = format!("/{}", rest.trim_start_matches('/'));
            std::fs::create_dir_all(&dir)
                .map_err(|e| StoreError::Config(format!("cannot create {dir}: {e}")))?;
            let fs = object_store::local::LocalFileSystem::new_with_prefix(&dir)
                .map_err(bad)?
                .with_automatic_cleanup(true);
            return Ok(StoreUrl {
                store: Arc::new(fs),
                prefix: Path::default(),
            });
        }
        "memory" => Arc::new(object_store::memory::InMemory::new()),
        other => {
            return Err(StoreError::Config(format!(
                "unsupported store scheme {other:?} in {url:?} (built with: {})",
                supported()
            )))
        }
    };
    Ok(StoreUrl { store, prefix })
}

fn supported() -> String {
    let mut s = vec!["memory://"];
    if cfg!(feature = "aws") {
        s.push("s3://");
    }
    if cfg!(feature = "gcp") {
        s.push("gs://");
    }
    if cfg!(feature = "azure") {
        s.push("az://");
    }
    if cfg!(feature = "fs") {
        s.push("file://");
    }
    s.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_open_their_store_and_prefix() {
        let m = open_store("memory://", None).unwrap();
        assert_eq!(m.prefix, Path::default());
        #[cfg(feature = "aws")]
        {
            let s3 = open_store("s3://media/inbound/eu/", Some("http://127.0.0.1:9")).unwrap();
            assert_eq!(s3.prefix.as_ref(), "inbound/eu");
            assert!(s3.store.to_string().contains("media"), "{}", s3.store);
            assert!(matches!(
                open_store("s3:///x", None),
                Err(StoreError::Config(_))
            ));
        }
        #[cfg(feature = "fs")]
        {
            let dir =
                std::env::temp_dir().join(format!("wa-media-store-open-{}", std::process::id()));
            let url = format!("file://{}", dir.display());
            let local = open_store(&url, None).unwrap();
            assert!(dir.is_dir());
            assert_eq!(local.prefix, Path::default());
            std::fs::remove_dir_all(&dir).unwrap();
        }
        let err = open_store("ftp://host/x", None).unwrap_err().to_string();
        assert!(err.contains("unsupported store scheme \"ftp\""), "{err}");
        assert!(open_store("no-scheme", None).is_err());
    }
}
