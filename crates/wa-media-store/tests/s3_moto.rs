//! The `fetch_to_store` suite on a real S3 protocol implementation: moto's server on
//! 127.0.0.1 (wa_media_testkit::moto), through object_store's `AmazonS3Builder` on this crate's
//! hyper connector. Pending multipart uploads are listed through S3's ListMultipartUploads.
//! Skipped with a printed reason only when moto is not installed and not required (CI).

mod common;

use std::sync::Arc;

use common::Backend;
use object_store::aws::AmazonS3Builder;
use wa_media_store::HyperConnector;
use wa_media_testkit::moto::Moto;

const BUCKET: &str = "wa-media-test";

fn s3(moto: &Arc<Moto>) -> Backend {
    let store = AmazonS3Builder::new()
        .with_endpoint(moto.endpoint())
        .with_allow_http(true)
        .with_region("us-east-1")
        .with_bucket_name(BUCKET)
        .with_access_key_id("test")
        .with_secret_access_key("test")
        .with_http_connector(HyperConnector::default())
        .build()
        .unwrap();
    let m = moto.clone();
    Backend {
        name: "s3",
        store: Arc::new(store),
        attributes: true,
        leftovers: Box::new(move || m.pending_multipart_uploads(BUCKET)),
        lists_pending: true,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_on_moto_passes_the_suite() {
    let Some(moto) = Moto::start_or_skip("s3_on_moto_passes_the_suite") else {
        return;
    };
    let moto = Arc::new(moto);
    moto.create_bucket(BUCKET);
    let env = common::env().await;
    let b = s3(&moto);
    common::round_trip(&env, &b).await;
    common::digest_mismatch(&env, &b).await;
    common::truncated(&env, &b).await;
    common::dropped(&env, &b).await;
    common::upload_from_store_arrives_intact(&env, &b).await;
}
