//! Gateway API rules CEL can judge from one route: `gateway-dotted-backend-name`.

use super::{Cel, CelValidation};
use crate::objects::kinds::Kind;
use crate::policy::Policy;

/// `gateway-dotted-backend-name`: no Service backendRef (core group, kind `Service` or unset)
/// of an HTTPRoute or GRPCRoute has a dot in its name; the message names the first that does.
pub fn dotted_backend_name(_: &Policy) -> Cel {
    let dotted = "!(has(b.group) && b.group != '') && !(has(b.kind) && b.kind != 'Service') && \
b.name.contains('.')";
    Cel {
        kinds: &[Kind::HttpRoute, Kind::GrpcRoute],
        variables: vec![
            (
                "dotted",
                format!(
                    "has(object.spec.rules) && object.spec.rules.exists(r, has(r.backendRefs) && \
r.backendRefs.exists(b, {dotted}))"
                ),
            ),
            (
                "dottedName",
                format!(
                    "variables.dotted ? object.spec.rules.filter(r, has(r.backendRefs) && \
r.backendRefs.exists(b, {dotted}))[0].backendRefs.filter(b, {dotted})[0].name : ''"
                ),
            ),
        ],
        validations: vec![CelValidation {
            expression: "!variables.dotted".into(),
            message_expression: format!(
                "'backendRef `' + {} + '` is a DNS name: name the Service by `name` and \
`namespace`, with a ReferenceGrant in that namespace for another one'",
                crate::cel::bounded("variables.dottedName")
            ),
        }],
        mutation: None,
    }
}
