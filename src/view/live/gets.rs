//! Live GETs: a backend Service the watch cache lacks is asked of the API server before the
//! rules run (the cache may lag it), with concurrent lookups of one Service sharing a GET and a
//! "not found" remembered for a while.

use super::{
    LIVE_GET_TIMEOUT, LiveView, MAX_LIVE_GETS, Prepared, SharedGet, api_resource, decode_dynamic,
};
use crate::objects::kinds::Kind;
use crate::objects::{Object, is_dns1035_label, namespace_of};
use crate::view::Lookup;
use crate::view::cache::Key;
use kube::api::{Api, DynamicObject};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

impl LiveView {
    /// The caches as they are, with no live GET.
    pub fn cached(&self) -> Prepared {
        Prepared {
            live: self.clone(),
            fetched: HashMap::new(),
        }
    }

    /// The view for judging `object`: the caches, plus (with `fetch_missing_backends`) a live
    /// GET of each backend Service of an Ingress that the Service cache does not hold: the cache
    /// may lag the API server.
    pub async fn prepare(&self, object: &Object, fetch_missing_backends: bool) -> Prepared {
        let mut fetched = HashMap::new();
        if let (true, Object::Ingress(ingress)) = (fetch_missing_backends, object) {
            let namespace = namespace_of(&ingress.meta).to_string();
            let mut missing: Vec<Key> = Vec::new();
            for backend in ingress.backends() {
                let key = (namespace.clone(), backend.service_name.to_string());
                // Names the API server would refuse cannot exist; they are not asked for.
                if is_dns1035_label(&key.1)
                    && !missing.contains(&key)
                    && self.cached_object(Kind::Service, &key.0, &key.1).is_none()
                {
                    missing.push(key);
                }
            }
            missing.truncate(MAX_LIVE_GETS);
            // One deadline for all of them; each GET that misses it counts as unknown.
            let deadline = tokio::time::Instant::now() + LIVE_GET_TIMEOUT;
            let answers = futures::future::join_all(missing.iter().map(|(ns, name)| async move {
                match tokio::time::timeout_at(deadline, self.get_service(ns, name)).await {
                    Ok(answer) => answer,
                    Err(_) => {
                        tracing::warn!(namespace = %ns, name = %name, "live GET of a backend Service timed out");
                        self.lookups.timeout.fetch_add(1, Ordering::Relaxed);
                        Lookup::Unknown
                    }
                }
            }))
            .await;
            fetched.extend(missing.into_iter().zip(answers));
        }
        Prepared {
            live: self.clone(),
            fetched,
        }
    }

    fn cached_object(&self, kind: Kind, namespace: &str, name: &str) -> Option<Arc<Object>> {
        self.kinds.get(&kind)?.cache().get(namespace, name)
    }

    /// The Service from the API server: a recent "not found" is remembered, and concurrent
    /// lookups of the same Service share one GET (it runs in its own task, so a request that
    /// gives up does not cancel it for the others).
    async fn get_service(&self, namespace: &str, name: &str) -> Lookup<Arc<Object>> {
        let key: Key = (namespace.to_string(), name.to_string());
        {
            let mut absent = self.gets.absent.lock().unwrap_or_else(|e| e.into_inner());
            let now = std::time::Instant::now();
            absent.retain(|_, until| *until > now);
            if absent.contains_key(&key) {
                self.lookups.remembered.fetch_add(1, Ordering::Relaxed);
                return Lookup::Absent;
            }
        }
        let shared = {
            let mut in_flight = self
                .gets
                .in_flight
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            if let Some(get) = in_flight.get(&key) {
                self.lookups.coalesced.fetch_add(1, Ordering::Relaxed);
                get.clone()
            } else {
                let get = self.spawn_get(key.clone());
                in_flight.insert(key, get.clone());
                get
            }
        };
        shared.await
    }

    fn spawn_get(&self, key: Key) -> SharedGet {
        use futures::FutureExt;
        let (client, gets, lookups) =
            (self.client.clone(), self.gets.clone(), self.lookups.clone());
        let task = tokio::spawn(async move {
            let info = Kind::Service.info();
            let api = Api::<DynamicObject>::namespaced_with(client, &key.0, &api_resource(info));
            let (counter, answer) = match api.get_opt(&key.1).await {
                Ok(Some(object)) => match decode_dynamic(info, object) {
                    Some(service) => (&lookups.found, Lookup::Found(Arc::new(service))),
                    None => (&lookups.error, Lookup::Unknown),
                },
                Ok(None) => (&lookups.absent, Lookup::Absent),
                Err(error) => {
                    tracing::warn!(%error, namespace = %key.0, name = %key.1, "live GET of a Service failed");
                    (&lookups.error, Lookup::Unknown)
                }
            };
            counter.fetch_add(1, Ordering::Relaxed);
            if matches!(answer, Lookup::Absent) && !gets.absent_ttl.is_zero() {
                let until = std::time::Instant::now() + gets.absent_ttl;
                gets.absent
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(key.clone(), until);
            }
            gets.in_flight
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&key);
            answer
        });
        async move { task.await.unwrap_or(Lookup::Unknown) }
            .boxed()
            .shared()
    }
}
