//! Prometheus remote write 1.0 on the wire: the `WriteRequest` protobuf messages (declared here
//! with `prost` derives, field numbers as in Prometheus' `prompb/types.proto` and
//! `remote.proto`; no `.proto` file, no code generation) and the snappy block compression of a
//! request body.
//!
//! An interval is encoded once, as a `WriteRequest` of its series. A repeated field's encoding
//! is the concatenation of its elements', so several intervals' encodings put end to end are one
//! `WriteRequest` holding all their series: a push after an outage sends the intervals that
//! waited in one body without decoding anything. No I/O.

use bytes::Bytes;
use prost::Message;

/// `prometheus.WriteRequest` (metadata, field 3, is not sent).
#[derive(Clone, PartialEq, Message)]
pub struct WriteRequest {
    #[prost(message, repeated, tag = "1")]
    pub timeseries: Vec<TimeSeries>,
}

/// `prometheus.TimeSeries`: labels sorted by name, samples in time order.
#[derive(Clone, PartialEq, Message)]
pub struct TimeSeries {
    #[prost(message, repeated, tag = "1")]
    pub labels: Vec<Label>,
    #[prost(message, repeated, tag = "2")]
    pub samples: Vec<Sample>,
}

#[derive(Clone, PartialEq, Message)]
pub struct Label {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(string, tag = "2")]
    pub value: String,
}

#[derive(Clone, PartialEq, Message)]
pub struct Sample {
    #[prost(double, tag = "1")]
    pub value: f64,
    /// Milliseconds since the Unix epoch.
    #[prost(int64, tag = "2")]
    pub timestamp: i64,
}

/// One interval's series as an encoded (uncompressed) `WriteRequest`.
pub fn encode(series: Vec<TimeSeries>) -> Bytes {
    Bytes::from(WriteRequest { timeseries: series }.encode_to_vec())
}

/// A request body from encoded intervals: their concatenation, snappy block-compressed.
pub fn body<'a>(intervals: impl IntoIterator<Item = &'a Bytes>) -> Result<Bytes, String> {
    let mut raw = Vec::new();
    for i in intervals {
        raw.extend_from_slice(i);
    }
    snap::raw::Encoder::new()
        .compress_vec(&raw)
        .map(Bytes::from)
        .map_err(|e| format!("snappy: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(name: &str, value: f64, timestamp: i64) -> TimeSeries {
        TimeSeries {
            labels: vec![Label {
                name: "__name__".into(),
                value: name.into(),
            }],
            samples: vec![Sample { value, timestamp }],
        }
    }

    #[test]
    fn intervals_put_end_to_end_are_one_request() {
        let a = encode(vec![series("a", 1.0, 1_000)]);
        let b = encode(vec![series("b", 2.5, 2_000), series("c", 3.0, 2_000)]);
        let body = body([&a, &b]).expect("compressed");
        let raw = snap::raw::Decoder::new()
            .decompress_vec(&body)
            .expect("snappy block format");
        let req = WriteRequest::decode(raw.as_slice()).expect("one WriteRequest");
        let names: Vec<&str> = req
            .timeseries
            .iter()
            .map(|t| t.labels[0].value.as_str())
            .collect();
        assert_eq!(names, ["a", "b", "c"]);
        assert_eq!(req.timeseries[1].samples[0].value, 2.5);
        assert_eq!(req.timeseries[2].samples[0].timestamp, 2_000);
    }

    /// The bytes of `Sample { value: 1.0, timestamp: 1000 }` as protoc's encoder writes them:
    /// field 1 double (tag 0x09), field 2 varint (tag 0x10).
    #[test]
    fn a_sample_has_prometheus_field_numbers() {
        let bytes = Sample {
            value: 1.0,
            timestamp: 1_000,
        }
        .encode_to_vec();
        assert_eq!(
            bytes,
            [0x09, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f, 0x10, 0xe8, 0x07]
        );
    }
}
