//! The caller's organisation and its settings (`orgcert_core::app` organisation.rs).

use axum::extract::State;
use axum::Json;
use orgcert_core::app::SettingsPatch;
use serde_json::Value;

use super::Caller;
use crate::json::JsonBody;
use crate::problem::ApiResult;
use crate::{views, HttpState};

pub async fn get_organisation(
    State(s): State<HttpState>,
    Caller(a): Caller,
) -> ApiResult<Json<Value>> {
    Ok(Json(views::organisation(
        &s.app.get_organisation(&a).await?,
    )))
}

pub async fn update_settings(
    State(s): State<HttpState>,
    Caller(a): Caller,
    body: JsonBody<SettingsPatch>,
) -> ApiResult<Json<Value>> {
    Ok(Json(views::organisation(
        &s.app.update_settings(&a, body.value).await?,
    )))
}
