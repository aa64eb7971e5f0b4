//! The integration tests: one test binary, one module per area.
//!
//! `api_*` drive real `owp serve` processes over HTTP; `github_*` run the GitHub App against the
//! fake GitHub in `github_support`; `worker_*` drive the volunteer's CLI; `dashboard_*` the
//! dashboard and public board (in headless Chromium where named `browser`); `ops_*` the operator's
//! commands; `store_*` the store on both databases; `pg_replicas` several processes on one
//! PostgreSQL database; `crash` a server killed in the middle of claiming. Shared harnesses:
//! `support` (servers and clients), `github_support` (the fake GitHub and its stories),
//! `pg_scratch` and `sqlite_scratch` (scratch databases of this build's schema),
//! `tampering_proxy`, `worker_agent_rig` (the agent hand-off's git repository, fake agent and fake
//! `gh`); `reviewed` checks what people read against the snapshots in `snapshots/`.
//!
//! Run one area with `cargo test --test it api_leases`, one test by its name.

mod github_support;
mod pg_scratch;
mod pg_shared;
mod reviewed;
mod services;
mod sqlite_scratch;
mod support;
mod tampering_proxy;

mod api_abuse;
mod api_basics;
mod api_beads;
mod api_concurrency;
mod api_config;
mod api_dependencies;
mod api_disclosure;
mod api_expiry;
mod api_idempotency;
mod api_leases;
mod api_load;
mod api_meta;
mod api_objects;
mod api_openapi;
mod api_paths;
mod api_presence;
mod api_preview;
mod api_proposals;
mod api_realtime;
mod api_reputation;
mod api_requires;
mod api_scheduling;
mod conformance;
mod conformance_edges;
mod crash;
mod dashboard_browser;
mod dashboard_browser_join;
mod dashboard_browser_settings;
mod dashboard_browser_steering;
mod dashboard_lease_progress;
mod dashboard_public;
mod dashboard_steering;
mod docs_github_app;
mod docs_plans_first;
mod docs_threats;
mod github_abuse;
mod github_account_age;
mod github_answers;
mod github_commits;
mod github_coupling;
mod github_delivery;
mod github_dependencies;
mod github_device_link;
mod github_disclosure;
mod github_events;
mod github_facts;
mod github_fake;
mod github_fake_oauth;
mod github_fake_user;
mod github_first_timers;
mod github_hour;
mod github_hour_run;
mod github_identity;
mod github_labels;
mod github_lanes;
mod github_one_delivery;
mod github_one_person;
mod github_parallel_writes;
mod github_path_locks;
mod github_person_reach;
mod github_person_record;
mod github_person_rules;
mod github_persons;
mod github_plan_first;
mod github_read_costs;
mod github_reconcile_spread;
mod github_reviewer_persons;
mod github_reviewers;
mod github_scale;
mod github_settings_shown;
mod github_setup;
mod github_stories;
mod github_strict;
mod github_task_policy;
mod github_trust;
mod github_verified_commits;
mod github_vouch;
mod obsidian_plugin;
mod ops_backup;
mod ops_bench;
mod ops_connections;
mod ops_demo;
mod ops_doctor;
mod ops_first_hour;
mod ops_logs;
mod ops_metrics;
mod ops_readiness;
mod ops_rotation;
mod ops_shutdown;
mod pg_replica_limits;
mod pg_replicas;
mod readme_tour;
mod release_listings;
mod signin;
mod signin_cost;
mod signin_hostile;
mod signin_visibility;
mod store_backends;
mod store_checked_reads;
mod store_checked_reads_app;
mod store_composed;
mod store_empty_claims;
mod store_gauges;
mod store_migrations;
mod store_outcomes;
mod store_presence;
mod store_processes;
mod store_queue;
mod store_races;
mod store_reviewer_migration;
mod store_support;
mod store_upgrade;
mod store_waiting;
mod worker_acp;
mod worker_agent;
mod worker_agent_drafts;
mod worker_agent_interrupted;
mod worker_agent_plan;
mod worker_agent_rig;
mod worker_agent_safety;
mod worker_hostile;
mod worker_link_cli;
mod worker_mcp;
mod worker_mcp_tasks;
