//! `vouch:` of `.github/owp.yml` (contract section 12, rule 12): the trust a vouched login counts
//! as, whether only vouched logins and maintainers claim, and the lists imported.

use serde::{Deserialize, Serialize};

use super::{MAX_TRUST_LEVEL, RepoConfig, RepoConfigError};

/// `vouch:` of the file (contract section 12, rule 12).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct VouchConfig {
    /// The trust a vouched login counts as here, at least (0-3).
    pub trust: u8,
    /// Only vouched logins and maintainers claim here.
    pub required: bool,
    /// Other repositories (`owner/name`) whose lists' denouncements apply here too.
    pub import: Vec<String>,
}

impl Default for VouchConfig {
    fn default() -> Self {
        VouchConfig {
            trust: 1,
            required: false,
            import: Vec::new(),
        }
    }
}

/// The most repositories `vouch.import` may name.
pub const MAX_VOUCH_IMPORTS: usize = 10;

impl RepoConfig {
    /// `vouch:`: a trust level, at most [`MAX_VOUCH_IMPORTS`] imports, each `owner/name`.
    pub(super) fn validate_vouch(&self) -> Result<(), RepoConfigError> {
        let vouch = &self.vouch;
        if vouch.trust > MAX_TRUST_LEVEL {
            return Err(RepoConfigError::invalid(format!(
                "vouch.trust must be between 0 and {MAX_TRUST_LEVEL} (found {})",
                vouch.trust
            )));
        }
        if vouch.import.len() > MAX_VOUCH_IMPORTS {
            return Err(RepoConfigError::invalid(format!(
                "vouch.import names at most {MAX_VOUCH_IMPORTS} repositories (found {})",
                vouch.import.len()
            )));
        }
        if let Some(bad) = vouch.import.iter().find(|r| !is_repo_name(r)) {
            return Err(RepoConfigError::invalid(format!(
                "vouch.import: `{}` is not a repository (owner/name)",
                bad.chars().take(100).collect::<String>()
            )));
        }
        Ok(())
    }
}

/// Whether `name` can be a GitHub repository's `owner/name`.
fn is_repo_name(name: &str) -> bool {
    let Some((owner, repo)) = name.split_once('/') else {
        return false;
    };
    super::is_github_login(owner)
        && !repo.is_empty()
        && repo.len() <= 100
        && repo != "."
        && repo != ".."
        && repo
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vouch_settings_and_their_errors() {
        let config =
            RepoConfig::parse("vouch:\n  trust: 2\n  required: true\n  import: [o/r]\n").unwrap();
        assert_eq!(config.vouch.trust, 2);
        assert!(config.vouch.required);
        assert_eq!(RepoConfig::parse("").unwrap().vouch, VouchConfig::default());
        let error = |yaml: &str| RepoConfig::parse(yaml).unwrap_err().message;
        assert_eq!(
            error("vouch:\n  trust: 4\n"),
            "vouch.trust must be between 0 and 3 (found 4)"
        );
        assert_eq!(
            error("vouch:\n  import: [nope]\n"),
            "vouch.import: `nope` is not a repository (owner/name)"
        );
        let many: Vec<String> = (0..11).map(|i| format!("o/r{i}")).collect();
        assert!(
            error(&format!("vouch:\n  import: [{}]\n", many.join(", ")))
                .starts_with("vouch.import names at most 10")
        );
        assert!(error("vouch:\n  required: maybe\n").contains("required"));
    }
}
