//! The webhooks' matchConditions stay within kube-apiserver's CEL cost limits on the largest
//! objects the API server stores, measured the way it measures them: the runtime cost of the
//! evaluation.
//!
//! kube-apiserver (k8s.io/apiserver v0.35.0) evaluates each matchCondition with a runtime cost
//! limit of `PerCallLimit` = 1,000,000 (`cel/environment/base.go` L83, `apis/cel/config.go`
//! L22) and all conditions of one webhook within `RuntimeCELCostBudgetMatchConditions` =
//! 2,500,000 (`config.go` L28-31, `matchconditions/matcher.go` L85). Over the limit the
//! condition errors, and the webhook's failurePolicy decides: a failing-closed webhook would
//! refuse the write.
//!
//! [`cost`] evaluates a parsed condition (the `cel` crate's AST) on JSON and adds up cel-go's
//! runtime costs (`interpreter/runtimecost.go`, cel-go v0.26.0; the Kubernetes library adds
//! none for these functions, `apiserver/pkg/cel/library/cost.go`):
//! - a variable 1, each field selected 1; a presence test (`has`) adds nothing (Kubernetes sets
//!   `PresenceTestHasCost(false)`, `base.go` L79, L87);
//! - `!` and `@not_strictly_false` 1; `&&`, `||` and `?:` nothing, and they short-circuit;
//! - a comprehension (`exists`) runs its loop condition and step per element, so each element
//!   costs 4 plus its predicate;
//! - `==`/`!=` on strings ⌈0.1·min(len)⌉, else 1; `in` on a map 1, on a list its size; `[]`,
//!   `size` and comparisons 1; a list literal 10;
//! - `s.matches(re)` ⌈0.1·(1+len s)⌉·⌈0.25·len re⌉; `startsWith`/`endsWith` ⌈0.1·len s⌉;
//!   `s.contains(t)` ⌈0.1·len s⌉·⌈0.1·len t⌉ (lengths in characters).
//!
//! The evaluator's verdicts are checked against the `cel` crate's on the same objects.

use serde_json::{Value, json};
use std::borrow::Cow;
use std::collections::HashMap;
use sticky_guard::policy::Policy;
use sticky_guard::rules::condition::{WEBHOOKS, expression};

use cel::common::ast::{Expr, IdedExpr, LiteralValue};

/// kube-apiserver's per-expression runtime cost limit (`celconfig.PerCallLimit`).
const PER_CALL_LIMIT: u64 = 1_000_000;

fn ceil_tenth(n: usize) -> u64 {
    n.div_ceil(10) as u64
}

fn chars(value: &Value) -> usize {
    value.as_str().map_or(0, |s| s.chars().count())
}

/// The variables in scope: the object borrowed, loop variables borrowed from it.
/// `pattern` compiled, once per test thread.
fn regex(pattern: &str) -> Result<regex::Regex, String> {
    thread_local! {
        static COMPILED: std::cell::RefCell<HashMap<String, regex::Regex>> = Default::default();
    }
    COMPILED.with_borrow_mut(|compiled| {
        if let Some(regex) = compiled.get(pattern) {
            return Ok(regex.clone());
        }
        let regex = regex::Regex::new(pattern).map_err(|e| e.to_string())?;
        compiled.insert(pattern.to_string(), regex.clone());
        Ok(regex)
    })
}

type Env<'a> = HashMap<String, Cow<'a, Value>>;

/// Evaluates `expr` in `env`, adding its runtime cost to `cost`.
fn eval<'a>(expr: &IdedExpr, env: &mut Env<'a>, cost: &mut u64) -> Result<Cow<'a, Value>, String> {
    match &expr.expr {
        Expr::Literal(literal) => Ok(Cow::Owned(match literal {
            LiteralValue::Boolean(b) => json!(**b),
            LiteralValue::Int(i) => json!(**i),
            LiteralValue::UInt(u) => json!(**u),
            LiteralValue::String(s) => json!(s.inner()),
            LiteralValue::Null => Value::Null,
            other => return Err(format!("literal {other:?} not modelled")),
        })),
        Expr::Ident(name) => {
            *cost += 1;
            env.get(name)
                .cloned()
                .ok_or_else(|| format!("no variable {name}"))
        }
        Expr::Select(select) => {
            let operand = eval(&select.operand, env, cost)?;
            if select.test {
                return Ok(Cow::Owned(json!(operand.get(&select.field).is_some())));
            }
            *cost += 1;
            let missing = || format!("no such key: {}", select.field);
            match operand {
                Cow::Borrowed(value) => value
                    .get(&select.field)
                    .map(Cow::Borrowed)
                    .ok_or_else(missing),
                Cow::Owned(value) => value
                    .get(&select.field)
                    .cloned()
                    .map(Cow::Owned)
                    .ok_or_else(missing),
            }
        }
        Expr::List(list) => {
            *cost += 10;
            let mut items = Vec::new();
            for element in &list.elements {
                items.push(eval(element, env, cost)?.into_owned());
            }
            Ok(Cow::Owned(Value::Array(items)))
        }
        Expr::Comprehension(comprehension) => {
            let range = eval(&comprehension.iter_range, env, cost)?;
            let items: Vec<Cow<'a, Value>> = match range {
                Cow::Borrowed(Value::Array(items)) => items.iter().map(Cow::Borrowed).collect(),
                Cow::Owned(Value::Array(items)) => items.into_iter().map(Cow::Owned).collect(),
                Cow::Borrowed(Value::Object(map)) => {
                    map.keys().map(|k| Cow::Owned(json!(k))).collect()
                }
                Cow::Owned(Value::Object(map)) => {
                    map.keys().map(|k| Cow::Owned(json!(k))).collect()
                }
                other => return Err(format!("cannot iterate {other}")),
            };
            let mut accu = eval(&comprehension.accu_init, env, cost)?;
            for item in items {
                env.insert(comprehension.iter_var.clone(), item);
                env.insert(comprehension.accu_var.clone(), accu.clone());
                if *eval(&comprehension.loop_cond, env, cost)? != json!(true) {
                    break;
                }
                accu = eval(&comprehension.loop_step, env, cost)?;
            }
            env.insert(comprehension.accu_var.clone(), accu);
            let result = eval(&comprehension.result, env, cost);
            env.remove(&comprehension.iter_var);
            env.remove(&comprehension.accu_var);
            result
        }
        Expr::Call(call) => call_value(call, env, cost).map(Cow::Owned),
        other => Err(format!("expression {other:?} not modelled")),
    }
}

/// A call's value (always a new one: a bool or a number).
fn call_value<'a>(
    call: &cel::common::ast::CallExpr,
    env: &mut Env<'a>,
    cost: &mut u64,
) -> Result<Value, String> {
    {
        {
            let args = &call.args;
            let truth = |v: Cow<'a, Value>| v.as_bool().ok_or_else(|| format!("not a bool: {v}"));
            match call.func_name.as_str() {
                "_&&_" => Ok(json!(
                    truth(eval(&args[0], env, cost)?)? && truth(eval(&args[1], env, cost)?)?
                )),
                "_||_" => Ok(json!(
                    truth(eval(&args[0], env, cost)?)? || truth(eval(&args[1], env, cost)?)?
                )),
                "_?_:_" => {
                    let branch = if truth(eval(&args[0], env, cost)?)? {
                        1
                    } else {
                        2
                    };
                    Ok(eval(&args[branch], env, cost)?.into_owned())
                }
                "!_" | "@not_strictly_false" => {
                    let value = truth(eval(&args[0], env, cost)?)?;
                    *cost += 1;
                    Ok(json!(if call.func_name == "!_" {
                        !value
                    } else {
                        value
                    }))
                }
                "_==_" | "_!=_" => {
                    let (a, b) = (eval(&args[0], env, cost)?, eval(&args[1], env, cost)?);
                    *cost += match (&*a, &*b) {
                        (Value::String(x), Value::String(y)) => {
                            ceil_tenth(x.chars().count().min(y.chars().count()))
                        }
                        _ => 1,
                    };
                    Ok(json!((*a == *b) == (call.func_name == "_==_")))
                }
                "@in" => {
                    let (element, container) =
                        (eval(&args[0], env, cost)?, eval(&args[1], env, cost)?);
                    match &*container {
                        Value::Array(items) => {
                            *cost += items.len() as u64;
                            Ok(json!(items.contains(&*element)))
                        }
                        Value::Object(map) => {
                            *cost += 1;
                            Ok(json!(element.as_str().is_some_and(|k| map.contains_key(k))))
                        }
                        other => Err(format!("`in` on {other}")),
                    }
                }
                "size" => {
                    let value = match &call.target {
                        Some(target) => eval(target, env, cost)?,
                        None => eval(&args[0], env, cost)?,
                    };
                    *cost += 1;
                    Ok(json!(match &*value {
                        Value::String(s) => s.chars().count(),
                        Value::Array(a) => a.len(),
                        Value::Object(m) => m.len(),
                        other => return Err(format!("size of {other}")),
                    }))
                }
                "_>_" | "_<_" | "_>=_" | "_<=_" => {
                    let (a, b) = (eval(&args[0], env, cost)?, eval(&args[1], env, cost)?);
                    *cost += 1;
                    let (a, b) = (a.as_i64().unwrap_or(0), b.as_i64().unwrap_or(0));
                    Ok(json!(match call.func_name.as_str() {
                        "_>_" => a > b,
                        "_<_" => a < b,
                        "_>=_" => a >= b,
                        _ => a <= b,
                    }))
                }
                "matches" | "startsWith" | "endsWith" | "contains" => {
                    let target = call.target.as_ref().ok_or("a receiver")?;
                    let s = eval(target, env, cost)?;
                    let t = eval(&args[0], env, cost)?;
                    let (s_text, t_text) = (
                        s.as_str().ok_or("a string receiver")?,
                        t.as_str().ok_or("a string argument")?,
                    );
                    let (ls, lt) = (chars(&s), chars(&t));
                    let (value, spent) = match call.func_name.as_str() {
                        "matches" => (
                            regex(t_text)?.is_match(s_text),
                            ceil_tenth(1 + ls) * (lt as u64).div_ceil(4),
                        ),
                        "startsWith" => (s_text.starts_with(t_text), ceil_tenth(ls)),
                        "endsWith" => (s_text.ends_with(t_text), ceil_tenth(ls)),
                        _ => (s_text.contains(t_text), ceil_tenth(ls) * ceil_tenth(lt)),
                    };
                    *cost += spent;
                    Ok(json!(value))
                }
                other => Err(format!("function {other} not modelled")),
            }
        }
    }
}

/// The runtime cost of `expression` on `object` (CREATE: `oldObject` null), and its verdict,
/// which the `cel` crate's must equal (checked on objects small enough for its speed: it
/// compiles a regex per `matches` call).
fn cost(expression: &str, object: &Value) -> (u64, bool) {
    let program = cel::Program::compile(expression).expect("valid CEL");
    let mut env = Env::new();
    env.insert("object".into(), Cow::Borrowed(object));
    env.insert("oldObject".into(), Cow::Owned(Value::Null));
    let mut spent = 0;
    let verdict = eval(program.expression(), &mut env, &mut spent)
        .unwrap_or_else(|e| panic!("the condition errors: {e}"));
    if object.to_string().len() > 100_000 {
        return (spent, *verdict == json!(true));
    }
    let mut context = cel::Context::default();
    context.add_variable("object", object.clone()).unwrap();
    context.add_variable("oldObject", Value::Null).unwrap();
    let theirs = program.execute(&context).expect("evaluates");
    assert_eq!(cel::Value::Bool(*verdict == json!(true)), theirs);
    (spent, *verdict == json!(true))
}

/// An Ingress of class `class` with `rules` rules of `paths` paths each, every path
/// `path_chars` long and every backend name 63 characters (the DNS-1035 maximum the API server
/// enforces before the validating webhooks), and 1,000 annotations with 100-character keys.
fn large_ingress(class: &str, rules: usize, paths: usize, path_chars: usize) -> Value {
    let path: String = std::iter::once('/')
        .chain(std::iter::repeat_n('a', path_chars - 1))
        .collect();
    let backend = "b".repeat(63);
    let rules: Vec<Value> = (0..rules)
        .map(|r| {
            let paths: Vec<Value> = (0..paths)
                .map(|_| {
                    json!({"path": path, "pathType": "Prefix",
                    "backend": {"service": {"name": backend, "port": {"number": 80}}}})
                })
                .collect();
            json!({"host": format!("h{r}.example.com"), "http": {"paths": paths}})
        })
        .collect();
    let annotations: serde_json::Map<String, Value> = (0..1000)
        .map(|i| (format!("example.com/{i:0>88}"), json!("x")))
        .collect();
    json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
           "metadata": {"name": "big", "namespace": "shop", "annotations": annotations},
           "spec": {"ingressClassName": class, "rules": rules}})
}

#[test]
fn the_evaluator_counts_as_cel_go_does() {
    // `exists` over n elements: 4 per element plus the predicate; a field 1, a variable 1.
    let list = json!({"spec": {"items": ["a", "b", "c"]}});
    let (spent, verdict) = cost("object.spec.items.exists(x, x == 'z')", &list);
    assert!(!verdict);
    // object.spec.items: 3; per element: loop condition 3 (@result, !, @not_strictly_false),
    // step 1 (@result) + x 1 + == ⌈0.1·1⌉ = 1; the result 1.
    assert_eq!(spent, 3 + 3 * (3 + 1 + 1 + 1) + 1);
    let (spent, _) = cost("'abcdefghij'.matches('^[a-z]+$')", &json!({}));
    assert_eq!(spent, 2 * 2);
}

/// On Ingresses small enough for the `cel` crate, both evaluators agree on every webhook.
#[test]
fn the_evaluator_agrees_with_the_cel_crate() {
    let policy = Policy::default();
    for class in ["nginx", "other", "traefik"] {
        let mut ingress = large_ingress(class, 3, 4, 20);
        for annotations in [
            json!({}),
            json!({"nginx.ingress.kubernetes.io/affinity": "cookie"}),
            json!({"nginx.ingress.kubernetes.io/session-cookie-name": "x"}),
        ] {
            ingress["metadata"]["annotations"] = annotations;
            for webhook in WEBHOOKS {
                cost(&expression(webhook, &policy), &ingress);
            }
        }
    }
}

/// Every webhook's condition on Ingresses of 5,000 paths (one rule of 5,000, and 5,000 rules
/// of one), of a judged class and of another, stays under the per-call limit; so do the
/// Service and route webhooks, whose objects the API server bounds by schema.
#[test]
fn every_condition_stays_under_the_api_servers_cost_limit_on_5000_paths() {
    let policy = Policy::default();
    let ingress_webhooks: Vec<_> = WEBHOOKS
        .iter()
        .filter(|w| {
            w.kinds
                .contains(&sticky_guard::objects::kinds::Kind::Ingress)
        })
        .collect();
    let mut costs: Vec<(String, &str, u64)> = Vec::new();
    for (shape, ingress) in [
        (
            "nginx, 1 rule of 5,000 paths of 1,000 characters",
            large_ingress("nginx", 1, 5000, 1000),
        ),
        (
            "nginx, 5,000 rules of 1 path of 1,000 characters",
            large_ingress("nginx", 5000, 1, 1000),
        ),
        (
            "nginx, 1 rule of 5,000 paths of 2 characters",
            large_ingress("nginx", 1, 5000, 2),
        ),
        (
            "other class, 1 rule of 5,000 paths",
            large_ingress("other", 1, 5000, 1000),
        ),
        (
            "traefik, 5,000 rules of 1 path",
            large_ingress("traefik", 5000, 1, 1000),
        ),
    ] {
        for webhook in &ingress_webhooks {
            let (spent, _) = cost(&expression(webhook, &policy), &ingress);
            assert!(
                spent < PER_CALL_LIMIT,
                "{}: cost {spent} on an Ingress ({shape}) ≥ {PER_CALL_LIMIT}",
                webhook.name
            );
            costs.push((webhook.name.to_string(), shape, spent));
        }
    }
    // Routes are bounded by their CRD's schema (Gateway API v1.x `httproute_types.go`: at most
    // 16 rules, 16 backendRefs and 64 matches per rule); Services by the annotations' size.
    let backend_refs: Vec<Value> = (0..16)
        .map(|i| json!({"name": format!("{i:b>63}"), "namespace": "shop", "port": 80}))
        .collect();
    let matches: Vec<Value> = (0..64)
        .map(|_| json!({"path": {"type": "PathPrefix", "value": "/".repeat(1000)}}))
        .collect();
    let rules: Vec<Value> = (0..16)
        .map(|_| json!({"matches": matches, "backendRefs": backend_refs}))
        .collect();
    let route = json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
        "metadata": {"name": "big", "namespace": "shop"}, "spec": {"rules": rules}});
    let mut service = json!({"apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "big", "namespace": "shop"}, "spec": {"type": "ClusterIP"}});
    service["metadata"]["annotations"] =
        large_ingress("nginx", 1, 1, 2)["metadata"]["annotations"].clone();
    for (object, kind) in [
        (&route, sticky_guard::objects::kinds::Kind::HttpRoute),
        (&service, sticky_guard::objects::kinds::Kind::Service),
    ] {
        for webhook in WEBHOOKS.iter().filter(|w| w.kinds.contains(&kind)) {
            let (spent, _) = cost(&expression(webhook, &policy), object);
            assert!(spent < PER_CALL_LIMIT, "{}: cost {spent}", webhook.name);
            costs.push((
                webhook.name.to_string(),
                "the largest route or a Service of 1,000 annotations",
                spent,
            ));
        }
    }
    eprintln!("condition costs: {costs:#?}");
    // The cost of a path does not depend on its length: no condition reads the paths of a
    // judged Ingress before a cheaper disjunct decides.
    for webhook in &ingress_webhooks {
        let of = |shape: &str| {
            costs
                .iter()
                .find(|(name, s, _)| name == webhook.name && s.starts_with(shape))
                .map(|(_, _, c)| *c)
        };
        assert_eq!(
            of("nginx, 1 rule of 5,000 paths of 1,000"),
            of("nginx, 1 rule of 5,000 paths of 2 "),
            "{}",
            webhook.name
        );
    }
}
