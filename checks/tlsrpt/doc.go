// Package tlsrpt is the pure model of SMTP TLS Reporting (RFC 8460): the
// _smtp._tls TXT record that tells sending MTAs where to report TLS
// failures, and the aggregate reports they send. It does no network I/O;
// it reads report files (Walk, ReadFile) but never fetches anything.
//
// Reports (RPT-JSON-*, RPT-TYPE-*, RPT-DEL-*):
//   - Parse parses one report's JSON; ParseReport reads one from an
//     io.Reader, gzip or JSON (sniffed by the magic bytes), capped, as a
//     stream: token by token, one failure-details entry at a time,
//     never holding the JSON whole. Identical failure details are
//     folded into one entry as they pass (counts added), and past 1,000
//     distinct entries in a report the rest are added up under coarser
//     keys ((other) for the fields dropped), so what a report keeps is
//     bounded whatever its size; policies[] and policy-string are
//     capped at 1,000. DecodeGzip and ReadJSON are capped readers for
//     callers that want the bytes. A receiver of POSTed reports
//     (RPT-DEL-8) calls ParseReport on the body as it arrives, or Parse
//     on bytes it decompressed itself.
//   - ParseMessage reads the reports of one mail (RPT-DEL-3), one part
//     at a time; the decoded JSON of all its parts together is capped
//     (Options.MaxMessage), past which the rest is not read.
//   - ReadFile reads one file (.json, .json.gz, .eml, a Maildir file);
//     Walk reads files, directories and Maildirs recursively, one
//     report at a time, hands each report to a callback once (duplicates by
//     organisation and report-id dropped; of copies that differ, the one
//     of the highest rank, by default the most failures, whatever the
//     order of the files, the conflict told) and collects an error per
//     bad file without stopping.
//
// The record parser, below, does no I/O at all. Every problem it reports names the rule it
// breaks, by the ids of docs/rules.md (RPT-REC-*, OPS-3).
//
// A caller that has looked up the TXT records at RecordName(domain):
//
//  1. joins the character-strings of each RR with nothing in between
//     (RPT-REC-8);
//  2. sorts the joined records with SelectRecords: only records starting
//     with exactly "v=TLSRPTv1;" count, and the domain has TLS-RPT only when
//     exactly one does (RPT-REC-7); near misses are returned apart so that
//     they can be reported rather than silently ignored;
//  3. parses the one record with ParseRecord, which returns the report
//     destinations (Record.RUA) and every problem found (txtrecord.Problem);
//  4. picks findings with SchemeProblems (a destination that is not
//     mailto: or https:, RPT-REC-4) and MultipleRUA (more than one
//     destination, RPT-REC-5: Microsoft sends reports only to the first,
//     OPS-3);
//  5. proposes a corrected record with Render.
//
// The parser is strict: it follows the RFC's grammar, marks as errors what
// makes compliant reporters ignore the record or a destination, and as
// warnings what the RFC allows but is risky. It never stops at the first
// problem, and it still returns what it could read. Destinations may be in
// any domain: RFC 8460 has no DMARC-style authorisation of external
// destinations (RPT-REC-9).
package tlsrpt
