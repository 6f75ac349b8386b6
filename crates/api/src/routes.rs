//! The handlers: validate, run the query on a blocking thread over the current snapshot, answer.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use cointrail_query::{
    ClusterJson, EvmRiskJson, EvmRiskTarget, LabelSearch, RiskJson, RiskTarget, Snapshot,
    StatusJson, TraceParams,
};
use cointrail_report::TraceDocument;
use cointrail_risk::RiskOptions;
use cointrail_types::{B256, EvmAddress, Hash32};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::AppState;
use crate::error::ApiError;

/// Header listing the client limits that were lowered to the server's caps.
const CLAMPED: HeaderName = HeaderName::from_static("x-cointrail-clamped");
/// Default hops of a screening.
const DEFAULT_RISK_HOPS: u32 = 5;
/// Longest address or search text accepted.
const MAX_TEXT: usize = 128;

/// A JSON body whose rejections become [`ApiError`]s that say what is wrong.
pub(crate) struct Body<T>(pub(crate) T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        match Json::<T>::from_request(request, state).await {
            Ok(Json(value)) => Ok(Self(value)),
            Err(rejection) => Err(json_rejection(&rejection)),
        }
    }
}

fn json_rejection(rejection: &JsonRejection) -> ApiError {
    let text = rejection.body_text();
    match rejection.status() {
        StatusCode::PAYLOAD_TOO_LARGE => {
            ApiError::TooLarge(format!("request body is too large: {text}"))
        }
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::UnsupportedMediaType(
            "request body must be JSON with `Content-Type: application/json`".to_owned(),
        ),
        StatusCode::UNPROCESSABLE_ENTITY => {
            ApiError::Unprocessable(format!("request body: {text}"))
        }
        _ => ApiError::BadRequest(format!("request body: {text}")),
    }
}

/// A query string whose rejections become [`ApiError`]s naming the parameter.
pub(crate) struct Params<T>(pub(crate) T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Params<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match Query::<T>::from_request_parts(parts, state).await {
            Ok(Query(value)) => Ok(Self(value)),
            Err(rejection) => Err(query_rejection(&rejection)),
        }
    }
}

fn query_rejection(rejection: &QueryRejection) -> ApiError {
    ApiError::BadRequest(format!("query string: {}", rejection.body_text()))
}

/// Runs `work` on a blocking thread over the current snapshot.
async fn blocking<T: Send + 'static>(
    state: &AppState,
    work: impl FnOnce(&Snapshot) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    let snapshot = state.inner.snapshots.get().await;
    tokio::task::spawn_blocking(move || work(&snapshot)).await?
}

/// Runs the query `work` as [`blocking`] does and answers its document as JSON; a query error
/// names `what` (the parameter it concerns).
async fn lookup<T: serde::Serialize + Send + 'static>(
    state: &AppState,
    what: &'static str,
    work: impl FnOnce(&Snapshot) -> cointrail_query::Result<T> + Send + 'static,
) -> Result<Response, ApiError> {
    let json = blocking(state, move |snapshot| {
        work(snapshot).map_err(|error| ApiError::query(what, error))
    })
    .await?;
    Ok(Json(json).into_response())
}

/// As [`blocking`], for traces and screenings: at most `max_concurrent_analyses` at once.
async fn analysis<T: Send + 'static>(
    state: &AppState,
    work: impl FnOnce(&Snapshot) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    let limits = &state.inner.config.limits;
    let permit =
        tokio::time::timeout(limits.analysis_queue_timeout, state.inner.analyses.acquire()).await;
    let Ok(Ok(_permit)) = permit else {
        return Err(ApiError::Busy(
            "too many traces and screenings at once: retry in a moment".to_owned(),
        ));
    };
    blocking(state, work).await
}

fn check_text(parameter: &str, text: &str) -> Result<(), ApiError> {
    if text.trim().is_empty() {
        return Err(ApiError::BadRequest(format!("{parameter} is empty")));
    }
    if text.len() > MAX_TEXT {
        return Err(ApiError::BadRequest(format!(
            "{parameter} is {} characters long, at most {MAX_TEXT} are accepted",
            text.len()
        )));
    }
    Ok(())
}

fn parse_txid(parameter: &str, text: &str) -> Result<Hash32, ApiError> {
    Hash32::from_display_hex(text.trim())
        .map_err(|error| ApiError::BadRequest(format!("{parameter}: {error}")))
}

/// Lowers `asked` to `cap`, noting it.
fn clamp<T: PartialOrd + Copy + std::fmt::Display>(
    name: &str,
    asked: T,
    cap: T,
    clamped: &mut Vec<String>,
) -> T {
    if asked > cap {
        clamped.push(format!("{name}={cap} (asked {asked})"));
        cap
    } else {
        asked
    }
}

fn with_clamped(mut response: Response, clamped: &[String]) -> Response {
    if !clamped.is_empty()
        && let Ok(value) = HeaderValue::from_str(&clamped.join(", "))
    {
        response.headers_mut().insert(CLAMPED, value);
    }
    response
}

pub(crate) async fn healthz(State(state): State<AppState>) -> Json<serde_json::Value> {
    let snapshot = state.inner.snapshots.get().await;
    let tip = snapshot.view().tip().map(|block| block.height.get());
    Json(serde_json::json!({ "status": "ok", "tip_height": tip }))
}

pub(crate) async fn metrics(State(state): State<AppState>) -> Response {
    let snapshot = state.inner.snapshots.get().await;
    let tip = snapshot.view().tip().map_or(-1.0, |block| f64::from(block.height.get()));
    let reloads = state.inner.snapshots.reloads();
    let text = state.inner.metrics.render(&[
        ("cointrail_store_tip_height", "Height of the tip of the snapshot in service.", tip),
        (
            "cointrail_snapshot_reloads",
            "Snapshots opened after a commit to the store.",
            f64::from(u32::try_from(reloads).unwrap_or(u32::MAX)),
        ),
    ]);
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
}

pub(crate) async fn openapi() -> Json<serde_json::Value> {
    Json(crate::openapi::document())
}

pub(crate) async fn not_found() -> ApiError {
    ApiError::NotFound("no such endpoint (see /openapi.json)".to_owned())
}

pub(crate) async fn status(State(state): State<AppState>) -> Result<Json<StatusJson>, ApiError> {
    blocking(&state, |snapshot| {
        cointrail_query::status(snapshot).map_err(|error| ApiError::query("status", error))
    })
    .await
    .map(Json)
}

pub(crate) async fn address(
    State(state): State<AppState>,
    Path(address): Path<String>,
    Params(query): Params<ChainQuery>,
) -> Result<Response, ApiError> {
    check_text("path parameter `address`", &address)?;
    let what = "path parameter `address`";
    if cointrail_query::is_evm_address(&address) {
        // An EVM address: the chain named by `chain`, or the store's only EVM chain.
        return lookup(&state, what, move |snapshot| {
            let chain = query.chain.as_deref();
            cointrail_query::evm_address(snapshot.store().dir(), snapshot.labels(), chain, &address)
        })
        .await;
    }
    lookup(&state, what, move |snapshot| cointrail_query::address(snapshot, &address)).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ChainQuery {
    chain: Option<String>,
}

pub(crate) async fn tx(
    State(state): State<AppState>,
    Path(txid): Path<String>,
    Params(query): Params<ChainQuery>,
) -> Result<Response, ApiError> {
    let what = "path parameter `txid`";
    if cointrail_query::is_evm_tx_hash(&txid) {
        return lookup(&state, what, move |snapshot| {
            cointrail_query::evm_tx(snapshot.store().dir(), query.chain.as_deref(), &txid)
        })
        .await;
    }
    parse_txid(what, &txid)?;
    lookup(&state, what, move |snapshot| cointrail_query::tx(snapshot, &txid)).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ClusterQuery {
    limit: Option<usize>,
    chain: Option<String>,
}

pub(crate) async fn cluster(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Params(query): Params<ClusterQuery>,
) -> Result<Response, ApiError> {
    check_text("path parameter `id`", &id)?;
    let mut clamped = Vec::new();
    let cap = state.inner.config.limits.cluster_max_addresses;
    let limit = clamp("limit", query.limit.unwrap_or(100), cap, &mut clamped);
    if cointrail_query::is_evm_address(&id) {
        // An EVM address: its deposit-address cluster on the chain named, or the only one.
        let json = blocking(&state, move |snapshot| {
            let dir = snapshot.store().dir();
            cointrail_query::evm_cluster(dir, snapshot.labels(), query.chain.as_deref(), &id, limit)
                .map_err(|error| ApiError::query("path parameter `id`", error))
        })
        .await?;
        return Ok(with_clamped(Json(json).into_response(), &clamped));
    }
    let json: ClusterJson = blocking(&state, move |snapshot| {
        cointrail_query::cluster(snapshot, &id, limit)
            .map_err(|error| ApiError::query("path parameter `id`", error))
    })
    .await?;
    Ok(with_clamped(Json(json).into_response(), &clamped))
}

pub(crate) async fn trace(
    State(state): State<AppState>,
    Body(mut params): Body<TraceParams>,
) -> Result<Response, ApiError> {
    let limits = state.inner.config.limits.clone();
    if params.seeds.iter().all(|seed| seed.trim().is_empty()) {
        return Err(ApiError::BadRequest("field `seeds` (or `from`) names no seed".to_owned()));
    }
    if params.seeds.len() > limits.trace_max_seeds {
        return Err(ApiError::BadRequest(format!(
            "field `seeds` has {} entries, at most {} are accepted",
            params.seeds.len(),
            limits.trace_max_seeds
        )));
    }
    for seed in &params.seeds {
        check_text("field `seeds`", seed)?;
    }
    if params.stop_category.len() > 32 {
        return Err(ApiError::BadRequest(
            "field `stop_category` has more than 32 entries".to_owned(),
        ));
    }
    if params.max_hops == 0 {
        return Err(ApiError::BadRequest("field `max_hops` must be at least 1".to_owned()));
    }
    let mut clamped = Vec::new();
    params.max_hops = clamp("max_hops", params.max_hops, limits.trace_max_hops, &mut clamped);
    params.max_txs = clamp("max_txs", params.max_txs, limits.trace_max_txs, &mut clamped);
    let budget = limits.trace_max_duration.as_secs().max(1);
    params.max_seconds =
        Some(clamp("max_seconds", params.max_seconds.unwrap_or(budget), budget, &mut clamped));
    let mut options = params.options().map_err(|error| ApiError::query("request body", error))?;
    options.max_duration = Some(
        params
            .max_seconds
            .map_or(limits.trace_max_duration, Duration::from_secs)
            .min(limits.trace_max_duration),
    );
    let command = format!("POST /v1/trace {}", serde_json::to_string(&params).unwrap_or_default());
    if params.seeds.iter().any(|seed| cointrail_query::is_evm_address(seed)) {
        let [seed] = params.seeds.as_slice() else {
            return Err(ApiError::BadRequest(
                "field `seeds`: an EVM trace takes one seed address".to_owned(),
            ));
        };
        let seed = seed.clone();
        let max_flows = limits.trace_max_txs;
        let document: TraceDocument = analysis(&state, move |snapshot| {
            cointrail_query::evm_trace(
                snapshot.store().dir(),
                snapshot.labels(),
                params.chain.as_deref(),
                &seed,
                params.asset.as_deref(),
                &params.policy,
                &params.direction,
                params.max_hops,
                params.max_txs.min(max_flows),
                &params.stop_category,
                command,
            )
            .map_err(|error| ApiError::query("field `seeds`", error))
        })
        .await?;
        return Ok(with_clamped(Json(document).into_response(), &clamped));
    }
    if params.chain.is_some() || params.asset.is_some() {
        return Err(ApiError::BadRequest(
            "fields `chain` and `asset` apply to EVM seeds (0x addresses) only".to_owned(),
        ));
    }
    let document: TraceDocument = analysis(&state, move |snapshot| {
        cointrail_query::trace(snapshot, &params, &options, limits.trace_max_seed_outputs, command)
            .map_err(|error| ApiError::query("field `seeds`", error))
    })
    .await?;
    Ok(with_clamped(Json(document).into_response(), &clamped))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RiskQuery {
    max_hops: Option<u32>,
    chain: Option<String>,
    asset: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TransferRequest {
    txid: String,
    vout: Option<u32>,
    log_index: Option<u32>,
    chain: Option<String>,
    asset: Option<String>,
    max_hops: Option<u32>,
}

/// Where an EVM screening goes and what it screens.
struct EvmScreening {
    target: EvmRiskTarget,
    chain: Option<String>,
    asset: Option<String>,
}

fn risk_options(
    state: &AppState,
    max_hops: Option<u32>,
    parameter: &str,
    clamped: &mut Vec<String>,
) -> Result<RiskOptions, ApiError> {
    let limits = &state.inner.config.limits;
    let asked = max_hops.unwrap_or(DEFAULT_RISK_HOPS);
    if asked == 0 {
        return Err(ApiError::BadRequest(format!("{parameter} `max_hops` must be at least 1")));
    }
    Ok(RiskOptions {
        max_hops: clamp("max_hops", asked, limits.risk_max_hops, clamped),
        max_txs: limits.risk_max_txs,
        max_duration: Some(limits.risk_max_duration),
    })
}

async fn screen(
    state: &AppState,
    target: RiskTarget,
    options: RiskOptions,
    parameter: &'static str,
    clamped: &[String],
) -> Result<Response, ApiError> {
    let inner = Arc::clone(&state.inner);
    let json: RiskJson = analysis(state, move |snapshot| {
        cointrail_query::risk(
            snapshot,
            &target,
            &inner.config.rules,
            &options,
            inner.config.limits.risk_max_outputs,
        )
        .map_err(|error| ApiError::query(parameter, error))
    })
    .await?;
    Ok(with_clamped(Json(json).into_response(), clamped))
}

async fn screen_evm(
    state: &AppState,
    screening: EvmScreening,
    options: RiskOptions,
    parameter: &'static str,
    clamped: &[String],
) -> Result<Response, ApiError> {
    let inner = Arc::clone(&state.inner);
    let json: EvmRiskJson = analysis(state, move |snapshot| {
        cointrail_query::evm_risk(
            snapshot.store().dir(),
            snapshot.labels(),
            screening.chain.as_deref(),
            screening.target,
            screening.asset.as_deref(),
            &inner.config.rules,
            &options,
            inner.config.limits.risk_max_outputs,
        )
        .map_err(|error| ApiError::query(parameter, error))
    })
    .await?;
    Ok(with_clamped(Json(json).into_response(), clamped))
}

fn check_option(parameter: &str, value: Option<&String>) -> Result<(), ApiError> {
    value.map_or(Ok(()), |text| check_text(parameter, text))
}

pub(crate) async fn risk_address(
    State(state): State<AppState>,
    Path(address): Path<String>,
    Params(query): Params<RiskQuery>,
) -> Result<Response, ApiError> {
    check_text("path parameter `address`", &address)?;
    check_option("query parameter `chain`", query.chain.as_ref())?;
    check_option("query parameter `asset`", query.asset.as_ref())?;
    let mut clamped = Vec::new();
    let options = risk_options(&state, query.max_hops, "query parameter", &mut clamped)?;
    if cointrail_query::is_evm_address(&address) {
        let target = EvmAddress::from_hex(address.trim())
            .map_err(|error| ApiError::BadRequest(format!("path parameter `address`: {error}")))?;
        let screening = EvmScreening {
            target: EvmRiskTarget::Address(target),
            chain: query.chain,
            asset: query.asset,
        };
        return screen_evm(&state, screening, options, "path parameter `address`", &clamped).await;
    }
    if query.chain.is_some() || query.asset.is_some() {
        return Err(ApiError::BadRequest(
            "query parameters `chain` and `asset` apply to EVM addresses (0x…) only".to_owned(),
        ));
    }
    let target = RiskTarget::Address(address.trim().to_owned());
    screen(&state, target, options, "path parameter `address`", &clamped).await
}

pub(crate) async fn risk_transfer(
    State(state): State<AppState>,
    Body(request): Body<TransferRequest>,
) -> Result<Response, ApiError> {
    check_text("field `txid`", &request.txid)?;
    check_option("field `chain`", request.chain.as_ref())?;
    check_option("field `asset`", request.asset.as_ref())?;
    let mut clamped = Vec::new();
    if cointrail_query::is_evm_tx_hash(&request.txid) {
        if request.vout.is_some() {
            return Err(ApiError::BadRequest(
                "field `vout` applies to Bitcoin transfers: an EVM token transfer is named by                  `log_index`"
                    .to_owned(),
            ));
        }
        let hash = B256::from_hex(request.txid.trim())
            .map_err(|error| ApiError::BadRequest(format!("field `txid`: {error}")))?;
        let options = risk_options(&state, request.max_hops, "field", &mut clamped)?;
        let target = match request.log_index {
            Some(log) => EvmRiskTarget::Log(hash, log),
            None => EvmRiskTarget::Tx(hash),
        };
        let screening = EvmScreening { target, chain: request.chain, asset: request.asset };
        return screen_evm(&state, screening, options, "field `txid`", &clamped).await;
    }
    if request.log_index.is_some() || request.chain.is_some() || request.asset.is_some() {
        return Err(ApiError::BadRequest(
            "fields `log_index`, `chain` and `asset` apply to EVM transfers (a 0x transaction              hash) only"
                .to_owned(),
        ));
    }
    let hash = parse_txid("field `txid`", &request.txid)?;
    let options = risk_options(&state, request.max_hops, "field", &mut clamped)?;
    let target = match request.vout {
        Some(vout) => RiskTarget::Output(hash, vout),
        None => RiskTarget::Tx(hash),
    };
    screen(&state, target, options, "field `txid`", &clamped).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LabelsQuery {
    query: Option<String>,
    limit: Option<usize>,
}

pub(crate) async fn labels(
    State(state): State<AppState>,
    Params(query): Params<LabelsQuery>,
) -> Result<Response, ApiError> {
    let text = query.query.ok_or_else(|| {
        ApiError::BadRequest(
            "query parameter `query` is required (an address or a name)".to_owned(),
        )
    })?;
    check_text("query parameter `query`", &text)?;
    if text.trim().chars().count() < 2 {
        return Err(ApiError::BadRequest(
            "query parameter `query` must have at least 2 characters".to_owned(),
        ));
    }
    let mut clamped = Vec::new();
    let cap = state.inner.config.limits.labels_max_results;
    let limit = clamp("limit", query.limit.unwrap_or(20), cap, &mut clamped);
    let found: LabelSearch = blocking(&state, move |snapshot| {
        Ok(cointrail_query::search_labels(snapshot, &text, limit))
    })
    .await?;
    Ok(with_clamped(Json(found).into_response(), &clamped))
}
