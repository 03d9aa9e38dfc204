//! The start-up checks on the options alone (BEH-220).

use nsq_common::goflag::{go_format_float, sort_descending};

use super::{Options, TlsRequired};

impl Options {
    /// Startup checks of BEH-220 that need no I/O, in the reference's order, plus its two
    /// adjustments: a client-auth policy turns `tls_required` from No to Yes (BEH-141), and
    /// the e2e percentiles end up sorted largest first (BEH-110).
    ///
    /// The reference builds the TLS config right after the node-id check; with only one of
    /// cert and key set, that build fails first ("failed to build TLS config - ..."). The
    /// "cannot require TLS" check here covers the case where neither is set.
    /// Every start-up check on the options alone, in the order of BEH-220. nsqd itself runs
    /// the three stages separately, because the TLS configurations are built between them.
    pub fn validate(&mut self) -> Result<(), String> {
        self.validate_before_tls()?;
        self.validate_tls_requirement()?;
        self.validate_after_tls()
    }

    /// BEH-220, before the server TLS configuration is built: the deflate level and node id.
    /// A client-auth policy also turns `--tls-required` on here.
    pub fn validate_before_tls(&mut self) -> Result<(), String> {
        if !(1..=9).contains(&self.max_deflate_level) {
            return Err("--max-deflate-level must be [1,9]".to_string());
        }
        if !(0..1024).contains(&self.node_id) {
            return Err("--node-id must be [0,1024)".to_string());
        }
        if !self.tls_client_auth_policy.is_empty() && self.tls_required == TlsRequired::No {
            self.tls_required = TlsRequired::Yes;
        }
        Ok(())
    }

    /// BEH-220, after the server TLS configuration: requiring TLS needs a key and cert.
    pub fn validate_tls_requirement(&self) -> Result<(), String> {
        if self.tls_cert.is_empty()
            && self.tls_key.is_empty()
            && self.tls_required != TlsRequired::No
        {
            return Err(
                "cannot require TLS client connections without TLS key and cert".to_string(),
            );
        }
        Ok(())
    }

    /// BEH-220, after the client TLS configuration: the auth method and the percentiles
    /// (which are then sorted).
    pub fn validate_after_tls(&mut self) -> Result<(), String> {
        if self.auth_http_request_method != "post" && self.auth_http_request_method != "get" {
            return Err("--auth-http-request-method must be post or get".to_string());
        }
        for &p in &self.e2e_processing_latency_percentiles {
            // Written as the reference writes it, so NaN passes as it does there.
            if p <= 0.0 || p > 1.0 {
                return Err(format!(
                    "invalid E2E processing latency percentile: {}",
                    go_format_float(p)
                ));
            }
        }
        sort_descending(&mut self.e2e_processing_latency_percentiles);
        Ok(())
    }
}
