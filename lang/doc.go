// Package lang holds the language processing that ingestion, retrieval and the
// model providers share: token counting with tiktoken (offline BPE files, so
// nothing is fetched at run time), word segmentation for Chinese and English
// text, and CJK-aware sentence splitting.
//
// Everything here is deterministic and safe for concurrent use. The Chinese
// dictionary and the BPE ranks are loaded lazily, once per process.
package lang
