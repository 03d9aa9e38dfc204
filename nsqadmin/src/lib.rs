//! nsqadmin: the cluster's web UI and its `/api/*` (spec §7).
