//! Watching a set of namespaces (`--watch-namespaces a,b`) as one stream for one reflector store.
//!
//! One watcher per namespace (so namespaced RBAC suffices), merged. A reflector store swaps in its
//! buffer on every `InitDone`, so the namespaces' own `Init`/`InitDone` cannot pass through: the
//! merged stream has one initial list (`Init`, every namespace's objects, then `InitDone` once all
//! namespaces are listed), and after that a namespace's relist (a watch that had to start over)
//! becomes `Apply` for what it lists and `Delete` for what it no longer has.

use std::collections::{BTreeSet, HashMap, HashSet};

use futures::{Stream, StreamExt, stream};
use kube::{
    Api, Client, Resource,
    runtime::{
        reflector::{ObjectRef, Store},
        watcher::{self, Event},
    },
};
use serde::de::DeserializeOwned;

/// The merge's state (pure: events in, events out).
pub struct Merge<K: Resource<DynamicType = ()>> {
    namespaces: usize,
    started: bool,
    /// Namespaces whose first list is complete.
    listed: BTreeSet<usize>,
    /// Namespaces relisting after the initial list: the keys listed so far.
    relisting: HashMap<usize, HashSet<ObjectRef<K>>>,
}

impl<K: Resource<DynamicType = ()> + Clone> Merge<K> {
    pub fn new(namespaces: usize) -> Self {
        Self { namespaces, started: false, listed: BTreeSet::new(), relisting: HashMap::new() }
    }

    fn initial(&self) -> bool {
        self.listed.len() < self.namespaces
    }

    /// Events for the store for one event of namespace `ns`. `in_store(ns)` lists what the store
    /// holds for that namespace (asked only when a relist ends).
    pub fn on(&mut self, ns: usize, ev: Event<K>, in_store: impl FnOnce() -> Vec<K>) -> Vec<Event<K>> {
        let mut out = Vec::new();
        if !self.started {
            self.started = true;
            out.push(Event::Init);
        }
        if self.initial() {
            match ev {
                // Everything before the merged InitDone goes to the store's buffer, newest last.
                Event::InitApply(o) | Event::Apply(o) => out.push(Event::InitApply(o)),
                Event::InitDone => {
                    self.listed.insert(ns);
                    if !self.initial() {
                        out.push(Event::InitDone);
                    }
                }
                // A namespace that restarts before all are listed lists again into the same buffer;
                // a delete before the buffer is swapped in is rare: after the swap it is applied.
                Event::Init => {}
                Event::Delete(o) => out.push(Event::Delete(o)),
            }
            return out;
        }
        match ev {
            Event::Init => {
                self.relisting.insert(ns, HashSet::new());
            }
            Event::InitApply(o) => {
                if let Some(seen) = self.relisting.get_mut(&ns) {
                    seen.insert(ObjectRef::from_obj(&o));
                }
                out.push(Event::Apply(o));
            }
            Event::InitDone => {
                if let Some(seen) = self.relisting.remove(&ns) {
                    let gone = in_store().into_iter().filter(|o| !seen.contains(&ObjectRef::from_obj(o)));
                    out.extend(gone.map(Event::Delete));
                }
            }
            other => out.push(other),
        }
        out
    }
}

/// One watch per namespace, merged for one store (`store` is read when a relist ends, to find what
/// it no longer lists). With a single namespace the watcher's own stream is returned.
pub fn watch<K>(
    client: Client,
    namespaces: &[String],
    config: watcher::Config,
    store: Store<K>,
) -> impl Stream<Item = Result<Event<K>, watcher::Error>> + Send + use<K>
where
    K: Resource<DynamicType = (), Scope = kube::core::NamespaceResourceScope>
        + Clone
        + DeserializeOwned
        + std::fmt::Debug
        + Send
        + Sync
        + 'static,
{
    let names: Vec<String> = namespaces.to_vec();
    let streams = names.iter().enumerate().map(|(i, ns)| {
        let api: Api<K> = Api::namespaced(client.clone(), ns);
        watcher(api, config.clone()).map(move |ev| (i, ev)).boxed()
    });
    let mut merge = Merge::<K>::new(names.len());
    stream::select_all(streams).flat_map(move |(i, ev)| {
        let out: Vec<Result<Event<K>, watcher::Error>> = match ev {
            Err(e) => vec![Err(e)],
            Ok(ev) => {
                let ns = names[i].clone();
                let store = store.clone();
                merge
                    .on(i, ev, move || {
                        store
                            .state()
                            .into_iter()
                            .filter(|o| o.meta().namespace.as_deref() == Some(ns.as_str()))
                            .map(|o| (*o).clone())
                            .collect()
                    })
                    .into_iter()
                    .map(Ok)
                    .collect()
            }
        };
        stream::iter(out)
    })
}

fn watcher<K>(
    api: Api<K>,
    config: watcher::Config,
) -> impl Stream<Item = Result<Event<K>, watcher::Error>> + Send
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + std::fmt::Debug + Send + 'static,
{
    watcher::watcher(api, config)
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::ConfigMap;
    use kube::api::ObjectMeta;

    fn cm(ns: &str, name: &str, v: &str) -> ConfigMap {
        ConfigMap {
            metadata: ObjectMeta {
                name: Some(name.into()),
                namespace: Some(ns.into()),
                resource_version: Some(v.into()),
                ..Default::default()
            },
            ..Default::default()
        }
    }

    /// A compact view of events: `I`, `D` (InitDone), `+ns/name@v` (InitApply), `a ns/name@v`, `-ns/name`.
    fn show(evs: &[Event<ConfigMap>]) -> Vec<String> {
        let key = |o: &ConfigMap| {
            format!(
                "{}/{}@{}",
                o.metadata.namespace.as_deref().unwrap_or(""),
                o.metadata.name.as_deref().unwrap_or(""),
                o.metadata.resource_version.as_deref().unwrap_or("")
            )
        };
        evs.iter()
            .map(|e| match e {
                Event::Init => "I".to_string(),
                Event::InitDone => "D".to_string(),
                Event::InitApply(o) => format!("+{}", key(o)),
                Event::Apply(o) => format!("a {}", key(o)),
                Event::Delete(o) => format!("-{}", key(o)),
            })
            .collect()
    }

    #[test]
    fn one_initial_list_for_all_namespaces_then_relists_per_namespace() {
        let mut m = Merge::<ConfigMap>::new(2);
        let none = Vec::new;
        // (namespace, event, what the store holds for it, the merged events)
        type Step = (usize, Event<ConfigMap>, Vec<ConfigMap>, Vec<&'static str>);
        let steps: Vec<Step> = vec![
            (0, Event::Init, vec![], vec!["I"]),
            (0, Event::InitApply(cm("a", "x", "1")), vec![], vec!["+a/x@1"]),
            (0, Event::InitDone, vec![], vec![]),
            // a is listed and watching; b is not listed yet: a's change joins the buffer.
            (0, Event::Apply(cm("a", "x", "2")), vec![], vec!["+a/x@2"]),
            (1, Event::Init, vec![], vec![]),
            (1, Event::InitApply(cm("b", "y", "1")), vec![], vec!["+b/y@1"]),
            (1, Event::InitDone, vec![], vec!["D"]),
            (1, Event::Apply(cm("b", "y", "2")), vec![], vec!["a b/y@2"]),
            // b's watch starts over: y is listed again, z is new, w (in the store) is gone.
            (1, Event::Init, vec![], vec![]),
            (1, Event::InitApply(cm("b", "y", "3")), vec![], vec!["a b/y@3"]),
            (1, Event::InitApply(cm("b", "z", "1")), vec![], vec!["a b/z@1"]),
            (
                1,
                Event::InitDone,
                vec![cm("b", "y", "3"), cm("b", "z", "1"), cm("b", "w", "1")],
                vec!["-b/w@1"],
            ),
            (0, Event::Delete(cm("a", "x", "2")), vec![], vec!["-a/x@2"]),
        ];
        for (i, (ns, ev, store, want)) in steps.into_iter().enumerate() {
            let got = m.on(ns, ev, || if store.is_empty() { none() } else { store });
            assert_eq!(show(&got), want, "step {i}");
        }
    }
}
