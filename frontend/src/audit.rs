//! The audit log (admins): every action attempt the server recorded, newest first, in pages
//! of 50 read from the server (`GET /api/v1/audit?offset=&limit=&refused=`), with the reason
//! each person gave; refused requests (often probes and cross-site posts) hidden unless asked
//! for, so the actions people took are not buried.

use fluxboard_model::action::{AuditEntry, ResultStatus};
use fluxboard_model::api::ObjectRef;
use fluxboard_model::audit::{AuditQuery, PAGE};
use fluxboard_model::kind_info;
use leptos::prelude::*;

use crate::load::Load;
use crate::route::{Link, detail_href};
use crate::ui::{ErrorView, Table, Time};

#[component]
pub(crate) fn AuditPage() -> impl IntoView {
    let entries = Load::new();
    let page = RwSignal::new(AuditQuery { offset: 0, limit: PAGE, refused: false });
    // A read per page asked for (and again on Refresh).
    Effect::new(move |_| {
        let q = page.get();
        entries.start(move || crate::api::audit(q));
    });
    let show_refused =
        move |ev| page.set(AuditQuery { offset: 0, refused: event_target_checked(&ev), ..page.get_untracked() });
    view! {
        <section class="page" aria-labelledby="audit-title">
            <div class="list-head">
                <h1 id="audit-title">"Audit log"</h1>
                <label class="inline-check">
                    <input type="checkbox" data-testid="audit-refused" prop:checked=move || page.with(|q| q.refused) on:change=show_refused />
                    " Show refused requests"
                </label>
                <button class="btn small" on:click=move |_| page.update(|_| ())>"Refresh"</button>
            </div>
            {move || match entries.get() {
                None => view! { <p class="loading">"Loading…"</p> }.into_any(),
                Some(Err(error)) => view! { <ErrorView error /> }.into_any(),
                Some(Ok((list, _))) if list.is_empty() => view! { <p class="empty">"No actions yet."</p> }.into_any(),
                Some(Ok((list, total))) => view! { <AuditTable list total page /> }.into_any(),
            }}
        </section>
    }
}

/// One page of entries, and the way to the newer and older ones.
#[component]
fn AuditTable(list: Vec<AuditEntry>, total: usize, page: RwSignal<AuditQuery>) -> impl IntoView {
    let q = page.get_untracked();
    let (first, last) = (q.offset + 1, q.offset + list.len());
    let to = move |offset: usize| page.update(|p| p.offset = offset);
    let (newest, oldest) = (q.offset == 0, last >= total);
    let rows = list.into_iter().map(|entry| view! { <AuditRow entry /> }).collect_view();
    view! {
        <section class="panel">
            <Table columns=&["When", "User", "Action", "Target", "Result", "Reason", "Message"] label="Audit log">{rows}</Table>
        </section>
        <nav class="pager" aria-label="Audit log pages">
            <button class="btn small" data-testid="audit-newer" disabled=newest on:click=move |_| to(q.offset.saturating_sub(q.limit))>
                "Newer"
            </button>
            <span class="pager-range" data-testid="audit-range" aria-live="polite">{format!("{first}–{last} of {total}")}</span>
            <button class="btn small" data-testid="audit-older" disabled=oldest on:click=move |_| to(q.offset + q.limit)>
                "Older"
            </button>
        </nav>
    }
}

#[component]
fn AuditRow(entry: AuditEntry) -> impl IntoView {
    let e = entry;
    let target = e.target.as_ref().map(|t| {
        let r = ObjectRef {
            cluster: t.cluster.clone(),
            group: t.group.clone().unwrap_or_default(),
            kind: t.kind.clone(),
            namespace: t.namespace.clone(),
            name: t.name.clone(),
        };
        let label = format!("{} {}/{} ({})", t.kind, t.namespace, t.name, t.cluster);
        if kind_info(&r.group, &r.kind).is_some() {
            view! { <Link href=detail_href(&r)>{label}</Link> }.into_any()
        } else {
            view! { <span>{label}</span> }.into_any()
        }
    });
    let (class, text) = match e.status {
        ResultStatus::Accepted => ("badge h-ready", "accepted"),
        ResultStatus::Refused => ("badge h-suspended", "refused"),
        ResultStatus::Failed => ("badge h-failing", "failed"),
    };
    view! {
        <tr>
            <td><Time at=Some(e.time.clone()) /></td>
            <td>{e.user.clone()}</td>
            <td>{e.action.map(|a| a.label()).unwrap_or("—")}</td>
            <td>{target}</td>
            <td><span class=class>{text}</span></td>
            <td class="reason">{e.reason.as_deref().map(fluxboard_model::view::plain)}</td>
            <td class="message">{fluxboard_model::view::plain(&e.message)}</td>
        </tr>
    }
}
