//! The cases of the specification's edges, moves and profiles (`edges.*`, `moves.*`,
//! `profile.*`) can fail: for each, the tampering proxy gives the server another answer than the
//! one the specification decides (`tampering_proxy::edges`), and the case fails with a message
//! naming the section that decides it. And problem titles are never compared: reworded ones
//! fail no case.

use crate::conformance::{SHORT_TTLS, fault_fails_naming, run_conformance, stdout};
use crate::support::Server;
use crate::tampering_proxy::edges::EdgeFault;
use crate::tampering_proxy::{Fault, Proxy};

async fn edge_fails(fault: EdgeFault, name: &str, section: &str) {
    fault_fails_naming(Fault::Edge(fault), name, section).await;
}

#[tokio::test]
async fn a_query_value_answered_400_fails_edges_query_value_422() {
    edge_fails(EdgeFault::QueryValuesAs400, "edges.query_value_422", "§12").await;
}

#[tokio::test]
async fn a_contract_fault_answered_validation_failed_fails_edges_contract_invalid() {
    edge_fails(
        EdgeFault::ContractAsValidation,
        "edges.contract_invalid",
        "§5.3",
    )
    .await;
}

#[tokio::test]
async fn an_open_disclosure_fails_edges_disclosure_closed() {
    edge_fails(
        EdgeFault::DisclosureOpen,
        "edges.disclosure_closed",
        "§16.7",
    )
    .await;
}

#[tokio::test]
async fn paths_out_of_order_fail_edges_paths_sorted() {
    edge_fails(EdgeFault::PathsUnsorted, "edges.paths_sorted", "§9.3").await;
}

#[tokio::test]
async fn any_worker_reading_any_task_fails_edges_who_reads_a_task() {
    edge_fails(
        EdgeFault::OthersReadTasks,
        "edges.who_reads_a_task",
        "§9.14",
    )
    .await;
}

#[tokio::test]
async fn a_lone_surrogate_taken_fails_edges_lone_surrogate_400() {
    edge_fails(
        EdgeFault::SurrogatesReplaced,
        "edges.lone_surrogate_400",
        "§3",
    )
    .await;
}

#[tokio::test]
async fn empty_problem_titles_fail_edges_problem_title_by_status() {
    edge_fails(
        EdgeFault::TitlesEmpty,
        "edges.problem_title_by_status",
        "§3",
    )
    .await;
}

#[tokio::test]
async fn the_media_type_before_credentials_fails_edges_order_of_checks() {
    edge_fails(
        EdgeFault::MediaTypeBeforeCredentials,
        "edges.order_of_checks",
        "Edges (order of checks)",
    )
    .await;
}

#[tokio::test]
async fn an_expiry_after_pr_opened_fails_moves_fields_after_each_move() {
    edge_fails(
        EdgeFault::ExpiryAfterPrOpened,
        "moves.fields_after_each_move",
        "§6",
    )
    .await;
}

#[tokio::test]
async fn a_lease_kept_after_blocked_fails_moves_holder_blocked_releases() {
    edge_fails(
        EdgeFault::BlockedKeepsLease,
        "moves.holder_blocked_releases",
        "§6",
    )
    .await;
}

#[tokio::test]
async fn a_reason_kept_after_ready_fails_moves_reason_only_while_ended() {
    edge_fails(
        EdgeFault::ReasonKept,
        "moves.reason_only_while_ended",
        "§9.5",
    )
    .await;
}

#[tokio::test]
async fn an_unacknowledged_lease_ending_at_its_ttl_fails_moves_unacked_ends_at_accept_by() {
    edge_fails(
        EdgeFault::UnackedEndsAtLeaseTtl,
        "moves.unacked_ends_at_accept_by",
        "§8.1",
    )
    .await;
}

#[tokio::test]
async fn a_short_approval_window_fails_moves_approved_lease_keeps_its_window() {
    edge_fails(
        EdgeFault::ApprovalWindowShort,
        "moves.approved_lease_keeps_its_window",
        "§8.1",
    )
    .await;
}

#[tokio::test]
async fn worker_online_on_registering_fails_moves_register_and_archive_events() {
    edge_fails(
        EdgeFault::OnlineOnRegister,
        "moves.register_and_archive_events",
        "§11",
    )
    .await;
}

#[tokio::test]
async fn lost_acceptance_criteria_fail_profile_beads_import() {
    edge_fails(
        EdgeFault::DropAcceptanceCriteria,
        "profile.beads_import",
        "§9.3 (Beads)",
    )
    .await;
}

#[tokio::test]
async fn a_limit_that_names_no_field_fails_profile_field_limits() {
    edge_fails(
        EdgeFault::LimitsWithoutField,
        "profile.field_limits",
        "Limits:",
    )
    .await;
}

#[tokio::test]
async fn outcomes_without_closed_pull_requests_fail_profile_outcomes() {
    edge_fails(EdgeFault::OutcomesWithoutClosed, "profile.outcomes", "§9.4").await;
}

#[tokio::test]
async fn metrics_without_the_acceptance_ratio_fail_profile_metrics() {
    edge_fails(EdgeFault::MetricsWithoutRatio, "profile.metrics", "§9.4").await;
}

/// Problem titles in another wording than axum's (as another HTTP library words them) fail no
/// case of the parts that judge problems most: `title` is compared by status, never by phrase.
#[tokio::test]
async fn reworded_problem_titles_fail_no_case() {
    let server = Server::start_with_env(&SHORT_TTLS).await;
    let proxy = Proxy::start(&server.base, &server.admin_token).await;
    proxy.set(Fault::Edge(EdgeFault::TitlesReworded));
    for part in ["wire.", "edges.", "auth.", "abuse."] {
        let (output, report) = run_conformance(
            &proxy.base,
            &server.admin_token,
            server.dir(),
            &["--only", part],
        )
        .await;
        let out = stdout(&output);
        assert!(
            output.status.success(),
            "{part} with reworded titles:\n{out}"
        );
        assert!(report["passed"].as_u64().unwrap_or(0) >= 3, "{out}");
    }
}
