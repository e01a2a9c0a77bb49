//! Just enough of the Kubernetes protobuf encoding to read the review requests kubectl sends
//! as protobuf (`kubectl auth can-i` posts a SelfSubjectAccessReview that way). Every other
//! protobuf body is refused with 415: kube-sim speaks JSON.

use serde_json::{Map, Value, json};

use crate::error::{ApiError, Result};

/// The content type of Kubernetes protobuf bodies.
pub(crate) const CONTENT_TYPE: &str = "application/vnd.kubernetes.protobuf";

/// Decodes a (Self/Local)SubjectAccessReview or SelfSubjectReview body to its JSON form.
pub(crate) fn decode_review(kind: &str, body: &[u8]) -> Result<Value> {
    let unsupported = || ApiError::unsupported_body(CONTENT_TYPE);
    let envelope = body.strip_prefix(b"k8s\0").ok_or_else(unsupported)?;
    let unknown = fields(envelope).ok_or_else(unsupported)?;
    let raw = bytes_of(&unknown, 2).unwrap_or_default();
    let object = fields(raw).ok_or_else(unsupported)?;
    let spec = fields(bytes_of(&object, 2).unwrap_or_default()).ok_or_else(unsupported)?;
    match kind {
        "SelfSubjectReview" => Ok(json!({})),
        "SelfSubjectAccessReview" | "SubjectAccessReview" | "LocalSubjectAccessReview" => {
            let mut out = Map::new();
            if let Some(ra) = bytes_of(&spec, 1).and_then(fields) {
                let names = ["namespace", "verb", "group", "version", "resource", "subresource", "name"];
                out.insert("resourceAttributes".into(), strings_object(&ra, &names));
            }
            if let Some(nra) = bytes_of(&spec, 2).and_then(fields) {
                out.insert("nonResourceAttributes".into(), strings_object(&nra, &["path", "verb"]));
            }
            if let Some(user) = bytes_of(&spec, 3) {
                out.insert("user".into(), json!(String::from_utf8_lossy(user)));
            }
            let groups: Vec<Value> =
                spec.iter().filter(|(n, _)| *n == 4).map(|(_, v)| json!(String::from_utf8_lossy(v))).collect();
            if !groups.is_empty() {
                out.insert("groups".into(), Value::Array(groups));
            }
            Ok(json!({"spec": out}))
        }
        _ => Err(unsupported()),
    }
}

fn strings_object(fields: &[(u64, &[u8])], names: &[&str]) -> Value {
    let mut out = Map::new();
    for (number, name) in (1u64..).zip(names) {
        if let Some(v) = bytes_of(fields, number) {
            out.insert((*name).to_owned(), json!(String::from_utf8_lossy(v)));
        }
    }
    Value::Object(out)
}

fn bytes_of<'a>(fields: &[(u64, &'a [u8])], number: u64) -> Option<&'a [u8]> {
    fields.iter().find(|(n, _)| *n == number).map(|(_, v)| *v)
}

/// The length-delimited fields of a message (varint and fixed fields are skipped); None when
/// the bytes are not a well-formed message.
fn fields(mut bytes: &[u8]) -> Option<Vec<(u64, &[u8])>> {
    let mut out = Vec::new();
    while !bytes.is_empty() {
        let (key, rest) = varint(bytes)?;
        bytes = rest;
        match key & 7 {
            0 => bytes = varint(bytes)?.1,
            1 => bytes = bytes.get(8..)?,
            5 => bytes = bytes.get(4..)?,
            2 => {
                let (len, rest) = varint(bytes)?;
                let len = usize::try_from(len).ok()?;
                out.push((key >> 3, rest.get(..len)?));
                bytes = rest.get(len..)?;
            }
            _ => return None,
        }
    }
    Some(out)
}

fn varint(bytes: &[u8]) -> Option<(u64, &[u8])> {
    let mut value = 0u64;
    for (i, b) in bytes.iter().enumerate().take(10) {
        value |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Some((value, &bytes[i + 1..]));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(number: u64, payload: &[u8]) -> Vec<u8> {
        let mut out = vec![u8::try_from((number << 3) | 2).unwrap(), u8::try_from(payload.len()).unwrap()];
        out.extend_from_slice(payload);
        out
    }

    #[test]
    fn a_self_subject_access_review_decodes() {
        let attributes = [
            field(1, b"apps"),
            field(2, b"patch"),
            field(3, b"kustomize.toolkit.fluxcd.io"),
            field(5, b"kustomizations"),
        ]
        .concat();
        let spec = field(1, &attributes);
        let review = field(2, &spec);
        let type_meta =
            field(1, &[field(1, b"authorization.k8s.io/v1"), field(2, b"SelfSubjectAccessReview")].concat());
        let body = [b"k8s\0".to_vec(), type_meta, field(2, &review)].concat();
        let decoded = decode_review("SelfSubjectAccessReview", &body).unwrap();
        assert_eq!(
            decoded["spec"]["resourceAttributes"],
            json!({"namespace": "apps", "verb": "patch", "group": "kustomize.toolkit.fluxcd.io", "resource": "kustomizations"})
        );
    }

    #[test]
    fn garbage_and_other_kinds_are_unsupported() {
        assert_eq!(decode_review("SelfSubjectAccessReview", b"not protobuf").unwrap_err().code, 415);
        assert_eq!(decode_review("SelfSubjectAccessReview", b"k8s\0\x12\xff").unwrap_err().code, 415);
        assert_eq!(decode_review("ConfigMap", b"k8s\0").unwrap_err().code, 415);
    }
}
