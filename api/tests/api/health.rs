//! Liveness, readiness and unknown routes.

use crate::both_stacks;
use crate::helpers::TestApp;

both_stacks!(
    healthz_and_readyz_answer_200_when_the_database_answers,
    unknown_routes_get_a_json_404,
);

async fn healthz_and_readyz_answer_200_when_the_database_answers(app: TestApp) {
    let health = app.get_json("/healthz", 200).await;
    assert_eq!(health["status"], "ok");
    let ready = app.get_json("/readyz", 200).await;
    assert_eq!(ready["database"], "ok");
    assert!(ready["redis_connected"].is_boolean());
}

async fn unknown_routes_get_a_json_404(app: TestApp) {
    let body = app.get_json("/api/v1/nothing-here", 404).await;
    assert_eq!(body["error"]["code"], "not_found");
}
