//! Ordered, cancellable reads for pages (what `LocalResource` does, in a fraction of its code
//! size: the bundle has a budget).
//!
//! Each [`Load::start`] runs its future under a reactive owner of its own, a child of the page's:
//! a newer start cleans the older one up (its request is aborted through `api.rs`'s abort
//! signal and its task cancelled, so its answer is never shown), and so does leaving the page.
//! The value shown stays the last answer until a newer one arrives.

use std::future::Future;

use leptos::prelude::*;

/// A read whose newest answer is shown.
#[derive(Debug)]
pub(crate) struct Load<T: Send + Sync + 'static> {
    value: RwSignal<Option<T>>,
    /// The page's owner: each read runs under a child of it.
    parent: StoredValue<Option<Owner>>,
    /// The owner of the read on the way (or of the last one).
    current: StoredValue<Option<Owner>>,
    /// Whether a read is on the way.
    busy: StoredValue<bool>,
}

impl<T: Send + Sync + 'static> Clone for Load<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T: Send + Sync + 'static> Copy for Load<T> {}

impl<T: Send + Sync + 'static> Load<T> {
    /// A read that has not started; call it inside the page's component.
    pub(crate) fn new() -> Load<T> {
        Load {
            value: RwSignal::new(None),
            parent: StoredValue::new(Owner::current()),
            current: StoredValue::new(None),
            busy: StoredValue::new(false),
        }
    }

    /// Starts `read` (made under the read's owner, so its requests abort with it), replacing
    /// the read on the way.
    pub(crate) fn start<F: Future<Output = T> + 'static>(&self, read: impl FnOnce() -> F) {
        let owner = self.parent.with_value(|p| p.as_ref().map_or_else(Owner::new, Owner::child));
        if let Some(old) = self.current.try_update_value(|c| c.replace(owner.clone())).flatten() {
            old.cleanup();
        }
        let (value, busy) = (self.value, self.busy);
        busy.set_value(true);
        owner.with(|| {
            let read = read();
            leptos::task::spawn_local_scoped_with_cancellation(async move {
                let answer = read.await;
                busy.try_set_value(false);
                value.try_set(Some(answer));
            });
        });
    }

    /// Whether a read is on the way.
    pub(crate) fn busy(&self) -> bool {
        self.busy.try_get_value().unwrap_or(false)
    }

    /// The newest answer, if one arrived (tracked).
    pub(crate) fn with<R>(&self, f: impl FnOnce(&Option<T>) -> R) -> R {
        self.value.with(f)
    }

    /// The newest answer, cloned (tracked).
    pub(crate) fn get(&self) -> Option<T>
    where
        T: Clone,
    {
        self.value.get()
    }
}
