//! The topology-aware consumption experiment (BEH-180..183, docs/topology.md): which clients
//! count as zone-local or region-local.

use crate::options::Options;

/// The `--enable-experiment` value that turns the experiment on.
pub const EXPERIMENT: &str = "topology-aware-consumption";

/// Locality bits of a client (`ClientShared::locality`).
pub const ZONE_LOCAL: u8 = 1;
pub const REGION_LOCAL: u8 = 2;

/// The locality of a client that identified with `zone` and `region`: nothing unless the
/// experiment is on. Empty equals empty (QRK-12, replicated).
pub fn locality(opts: &Options, zone: &str, region: &str) -> u8 {
    if !opts.experiment_enabled(EXPERIMENT) {
        return 0;
    }
    let mut bits = 0;
    if zone == opts.topology_zone {
        bits |= ZONE_LOCAL;
    }
    if region == opts.topology_region {
        bits |= REGION_LOCAL;
    }
    bits
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locality_needs_the_experiment_and_matches_empty_values() {
        let mut opts = Options {
            topology_zone: "z1".into(),
            topology_region: "r1".into(),
            ..Options::default()
        };
        assert_eq!(locality(&opts, "z1", "r1"), 0);
        opts.enable_experiment = vec![EXPERIMENT.into()];
        assert_eq!(locality(&opts, "z1", "r1"), ZONE_LOCAL | REGION_LOCAL);
        assert_eq!(locality(&opts, "z2", "r1"), REGION_LOCAL);
        assert_eq!(locality(&opts, "z1", "r2"), ZONE_LOCAL);
        assert_eq!(locality(&opts, "", ""), 0);
        opts.topology_zone.clear();
        assert_eq!(locality(&opts, "", "r2"), ZONE_LOCAL);
    }
}
