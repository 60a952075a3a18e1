//! Which Ingress paths ingress-nginx's admission webhook accepts for each `pathType`.
//!
//! Since v1.12.0 the ConfigMap key `strict-validate-path-type` is on by default
//! (`internal/ingress/controller/config/config.go` L738-742, default `true` at L914;
//! `changelog/controller-1.12.0.md` L149: "`strict-validate-path-type` gets enabled by
//! default"). With it, a path of type `Exact` or `Prefix` (or no type) must match
//! [`VALID_PATH_TYPE_REGEX`]; `ImplementationSpecific` paths and empty paths are not checked
//! (`internal/ingress/inspector/inspector.go` `ValidatePathType`, L45-71: empty paths skipped at
//! L53, the type test at L56, the error "path %s cannot be used with pathType %s" at L64).
//!
//! Only the controller's **admission webhook** enforces it (`CheckIngress`,
//! `internal/ingress/controller/controller.go` L375-378: "ingress contains invalid paths"); the
//! sync loop never calls `ValidatePathType`, so without that webhook nothing is refused.

use std::sync::OnceLock;

/// `validPathType` (`internal/ingress/inspector/rules.go` L37), as written:
/// `` regexp.MustCompile(`(?i)^/[[:alnum:]._\-/]*$`) ``. The comment above it (L31-36):
/// "validPathType enforces alphanumeric, -, _ , . and / characters. … Nothing else is
/// accepted." `[[:alnum:]]` is ASCII in Go and in Rust's `regex`, and both fold case under
/// `(?i)` the same way, so the pattern means the same here.
pub const VALID_PATH_TYPE_REGEX: &str = r"(?i)^/[[:alnum:]._\-/]*$";

/// Whether ingress-nginx's webhook (with `strict-validate-path-type`, the default since
/// v1.12.0) accepts `path` with `path_type`: always for `ImplementationSpecific` and for an
/// empty path, otherwise when the path matches [`VALID_PATH_TYPE_REGEX`] (`inspector.go`
/// L53-57).
pub fn strict_path_type_accepts(path: &str, path_type: &str) -> bool {
    static VALID: OnceLock<regex::Regex> = OnceLock::new();
    if path.is_empty() || path_type == "ImplementationSpecific" {
        return true;
    }
    VALID
        .get_or_init(|| regex::Regex::new(VALID_PATH_TYPE_REGEX).expect("literal regex"))
        .is_match(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The cases of the controller's own `TestValidatePathType`
    /// (`internal/ingress/inspector/inspector_test.go`): accepted paths L45-57, rejected
    /// L94-118 (the errors it expects at L192-197), `ImplementationSpecific` L139-144.
    #[test]
    fn the_controllers_own_cases() {
        for (path, path_type) in [
            ("/xpto/ab0/x_ss-9", "Prefix"),
            ("/.well-known/acme-challenge/", "Prefix"),
            ("/bla/", "Exact"),
            ("/.well-known/acme-challenge/", "Exact"),
        ] {
            assert!(strict_path_type_accepts(path, path_type), "{path}");
        }
        for (path, path_type) in [
            ("/foo.+", "Exact"),
            ("xpto/lala", "Exact"),
            ("/foo/bar/[a-z]{3}", "Prefix"),
            ("/lala/xp\ntest", "Prefix"),
            ("/$lala/test", "Prefix"),
            ("#lala/test", "Prefix"),
        ] {
            assert!(!strict_path_type_accepts(path, path_type), "{path}");
        }
        for path in ["/foo.+", "xpto/lala"] {
            assert!(strict_path_type_accepts(path, "ImplementationSpecific"));
        }
    }

    /// rules.go L31-37: only ASCII letters and digits and `. _ - /`, after a leading `/`; the
    /// case does not matter (`(?i)`). Empty paths are skipped (inspector.go L53).
    #[test]
    fn accepted_and_rejected_paths() {
        for accepted in ["/", "/API/v1.0/users_list-x/", "/a//b", "/MySite"] {
            assert!(strict_path_type_accepts(accepted, "Prefix"), "{accepted}");
        }
        for rejected in [
            "/mysite(/|$)(.*)",
            "/api/.*",
            "/~user",
            "/a b",
            "/a+b",
            "/a@b",
            "/caf\u{e9}",
            "/a:b",
            "/a\n",
        ] {
            assert!(!strict_path_type_accepts(rejected, "Prefix"), "{rejected}");
            assert!(!strict_path_type_accepts(rejected, "Exact"), "{rejected}");
            assert!(strict_path_type_accepts(rejected, "ImplementationSpecific"));
        }
        assert!(strict_path_type_accepts("", "Prefix"));
    }
}
