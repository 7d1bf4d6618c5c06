// The code below the marker line is appended to FerretDB 1.24.2's internal/backends/sqlite/collection.go by
// runtime/ferretdb-patches/index.ts (which also adds the imports); this header only makes the file read as Go.
package sqlite

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/FerretDB/FerretDB/internal/backends"
	"github.com/FerretDB/FerretDB/internal/backends/sqlite/metadata"
	"github.com/FerretDB/FerretDB/internal/handler/common"
	"github.com/FerretDB/FerretDB/internal/handler/sjson"
	"github.com/FerretDB/FerretDB/internal/types"
	"github.com/FerretDB/FerretDB/internal/util/fsql"
	"github.com/FerretDB/FerretDB/internal/util/iterator"
	"github.com/FerretDB/FerretDB/internal/util/lazyerrors"
	"github.com/FerretDB/FerretDB/internal/util/must"
)

// ---- usagegraph pushdown: appended to collection.go ----

// pdRead is how a query was answered: the documents, and the statement that read them (explain shows its plan).
type pdRead struct {
	iter     types.DocumentsIterator
	sql      string
	args     []any
	page     bool // answered by pdPage: an index-ordered read that stopped after the limit
	pageRows int  // documents pdPage decoded
	where    bool
	sorted   bool
	limited  bool
}

// pdQuery answers a query: a find with a limit from an index-ordered page when that is provably MongoDB's answer,
// anything else, and any page it cannot prove, as FerretDB always did (a WHERE that keeps every match, then Go).
func pdQuery(ctx context.Context, db *fsql.DB, meta *metadata.Collection, params *backends.QueryParams) (*pdRead, error) {
	if params.FindLimit > 0 && !meta.Capped() && !params.OnlyRecordIDs {
		read, err := pdPage(ctx, db, meta, params)
		if err != nil || read != nil {
			return read, err
		}
	}

	return pdScan(ctx, db, meta, params)
}

// pdScan reads every document the pushed-down conditions keep; FerretDB applies the whole filter to them.
func pdScan(ctx context.Context, db *fsql.DB, meta *metadata.Collection, params *backends.QueryParams) (*pdRead, error) {
	f := pdParse(params.Filter)

	// A range narrows what is read, so it is pushed only when no string sits in one of its holes (see pdHoles).
	probes := map[string][][2]string{}

	for _, c := range f.conds {
		if c.bound != nil && pdIndexed(meta, c.key) {
			probes[c.key] = append(probes[c.key], pdHoles(*c.bound)...)
		}
	}

	holes, err := pdAnyIn(ctx, db, meta.TableName, probes)
	if err != nil {
		return nil, err
	}

	var conds []string
	var args []any
	var pushed []pdCond

	for _, c := range f.conds {
		if c.bound != nil && (holes || !pdIndexed(meta, c.key)) {
			continue
		}

		pushed = append(pushed, c)
		conds = append(conds, c.sql(true))
		args = append(args, c.args...)
	}

	from := prepareSelectClause(meta.TableName, params.Comment, meta.Capped(), params.OnlyRecordIDs)

	var rest string
	if len(conds) > 0 {
		rest += " WHERE " + strings.Join(conds, " AND ")
	}

	orderBy := prepareOrderByClause(params.Sort)
	rest += orderBy

	if params.Limit != 0 {
		rest += ` LIMIT ?`
		args = append(args, params.Limit)
	}

	q := from + rest
	if index := pdBestIndex(meta, pushed); index != "" {
		q = fmt.Sprintf("%s INDEXED BY %q%s", from, index, rest)
	}

	rows, err := db.QueryContext(ctx, q, args...)
	if err != nil && q != from+rest && strings.Contains(err.Error(), "no query solution") {
		q = from + rest // SQLite could not use that index after all: let it choose, as it always did
		rows, err = db.QueryContext(ctx, q, args...)
	}

	if err != nil {
		return nil, lazyerrors.Error(err)
	}

	return &pdRead{
		iter: newQueryIterator(ctx, rows, params.OnlyRecordIDs),
		sql:  q, args: args, where: len(conds) > 0, sorted: orderBy != "", limited: params.Limit != 0,
	}, nil
}

// pdBestIndex names the SQLite index that narrows the read most, or "" to leave the choice to SQLite. SQLite has no
// statistics here, so it rates an equality on a low-cardinality key (periodKey, status) as cheaper than an $in of
// ids, which the array branch makes an OR: {subscriptionId: {$in: 200 ids}, periodKey: p} then read every document
// of the period through {periodKey: 1, _id: 1} instead of 800 through {subscriptionId: 1, periodKey: 1}. An index
// scores one for each leading key the conditions pin (= or $in), a half for a range on the key after them, and wins
// outright when unique and pinned on every key; a tie for the best score is left to SQLite.
func pdBestIndex(meta *metadata.Collection, conds []pdCond) string {
	best, bestScore, tied := "", 0.0, false

	for _, index := range meta.Settings.Indexes {
		score := 0.0
		pinned := 0

		for _, k := range index.Key {
			op := ""

			for _, c := range conds {
				if c.key == k.Field && (op == "" || c.op == "=" || c.op == "IN") {
					op = c.op
				}
			}

			if op == "=" || op == "IN" {
				score++
				pinned++

				continue
			}

			if op != "" {
				score += 0.5
			}

			break
		}

		if index.Unique && pinned == len(index.Key) {
			score += 100
		}

		switch {
		case score > bestScore:
			best, bestScore, tied = index.Name, score, false
		case score == bestScore && score > 0:
			tied = true
		}
	}

	if best == "" || tied {
		return ""
	}

	return meta.TableName + "_" + best
}

// pdPage answers a find with a limit by reading in _id order and stopping after `limit` matches, or nil when it
// cannot prove that these are the documents MongoDB returns (see the header of runtime/ferretdb-patches/index.ts).
func pdPage(ctx context.Context, db *fsql.DB, meta *metadata.Collection, params *backends.QueryParams) (*pdRead, error) {
	filter, limit := params.FindFilter, params.FindLimit
	f := pdParse(filter)

	// Strings only on _id: MongoDB then compares _id with strings alone, and SQLite's order can be checked.
	var idStrings bool

	for _, c := range f.conds {
		idStrings = idStrings || (c.key == "_id" && c.strings)
	}

	// The sort: none, or _id after keys that the filter pins to one string (so they do not change the order).
	var sorted, desc bool

	for _, k := range params.FindSort.Keys() {
		if k == "_id" {
			sorted, desc = true, must.NotFail(params.FindSort.Get(k)).(int64) < 0
			break // _id is unique: keys after it never decide
		}

		if !f.pins(meta, k) {
			return nil, nil
		}
	}

	if params.FindSort.Len() > 0 && !sorted {
		return nil, nil
	}

	// Descending, ObjectIDs come before strings but are scattered among them in SQLite's order: only when the filter
	// restricts _id to strings.
	if desc && !idStrings {
		return nil, nil
	}

	complete := f.complete
	probes := map[string][][2]string{}

	var conds []string
	var args []any

	for _, c := range f.conds {
		indexed := pdIndexed(meta, c.key)

		if c.bound != nil && !indexed {
			complete = false // probing its holes would read the whole table: Go checks this range
			continue
		}

		// On an indexed field the condition leaves arrays out, so SQLite reads one index range; no array is checked below.
		conds = append(conds, c.sql(!indexed))
		args = append(args, c.args...)

		if c.key != "_id" && indexed {
			probes[c.key] = append(probes[c.key], [2]string{"[", `\`})
		}

		if c.bound != nil {
			probes[c.key] = append(probes[c.key], pdHoles(*c.bound)...)
		}
	}

	q := prepareSelectClause(meta.TableName, params.Comment, false, false)
	if len(conds) > 0 {
		q += " WHERE " + strings.Join(conds, " AND ")
	}

	if sorted {
		q += " ORDER BY " + pdExpr("_id")
		if desc {
			q += " DESC"
		}
	}

	// When the WHERE is the whole filter, SQL stops at the limit too (a short page from odd values is caught below).
	if complete {
		q += " LIMIT ?"
		args = append(args, limit)
	}

	rows, err := db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, lazyerrors.Error(err)
	}

	iter := newQueryIterator(ctx, rows, false)
	defer iter.Close()

	var docs []*types.Document
	var read int
	var unsafe bool

	for int64(len(docs)) < limit {
		_, doc, err := iter.Next()
		if errors.Is(err, iterator.ErrIteratorDone) {
			break
		}

		if err != nil {
			return nil, lazyerrors.Error(err)
		}

		read++

		if filter != nil {
			match, err := common.FilterDocument(doc, filter)
			if err != nil {
				return nil, nil // FerretDB reports the filter's error as it always did
			}

			if !match {
				continue
			}
		}

		if sorted {
			id, _ := doc.Get("_id")
			s, ok := id.(string)
			unsafe = unsafe || !ok || !pdBound(s)
		}

		docs = append(docs, doc)
	}

	iter.Close() // frees the connection before the probe (an in-memory database has only one)

	full := int64(len(docs)) == limit

	switch {
	case complete && !full && int64(read) == limit:
		return nil, nil // SQL stopped at the limit, but some of its rows did not match (an ObjectID equal to a string)
	case full && !sorted:
		return pdPageRead(docs, q, args, read, conds, sorted, complete), nil // any `limit` matches are the answer
	case full && unsafe:
		return nil, nil // the order of a page with a non-string or unsafe _id cannot be checked
	case full:
		if !idStrings {
			// MongoDB sorts numbers and null before strings; every non-string's JSON text is from '#' on.
			probes["_id"] = append(probes["_id"], [2]string{"#", "~"})
		}

		last := must.NotFail(docs[len(docs)-1].Get("_id")).(string)
		probes["_id"] = append(probes["_id"], pdHoles(last)...)
	}

	found, err := pdAnyIn(ctx, db, meta.TableName, probes)
	if err != nil || found {
		return nil, err
	}

	return pdPageRead(docs, q, args, read, conds, sorted, complete), nil
}

func pdPageRead(docs []*types.Document, q string, args []any, read int, conds []string, sorted, limited bool) *pdRead {
	return &pdRead{
		iter: iterator.Values(iterator.ForSlice(docs)),
		sql:  q, args: args, page: true, pageRows: read, where: len(conds) > 0, sorted: sorted, limited: limited,
	}
}

// pdCond is a condition of the filter that SQL can check on the expression FerretDB indexes its key on.
type pdCond struct {
	key     string
	op      string  // =, IN, >, >=, <, <=
	args    []any   // operands as the JSON text FerretDB stores
	bound   *string // a range's operand (may be "")
	strings bool    // every operand is a string
}

// pdFilter is what of a filter SQL can check; complete when that is the whole filter.
type pdFilter struct {
	conds    []pdCond
	complete bool
}

func pdParse(filter *types.Document) *pdFilter {
	f := &pdFilter{complete: true}
	f.add(filter)

	return f
}

func (f *pdFilter) add(filter *types.Document) {
	if filter == nil {
		return
	}

	values := filter.Values()

	for i, k := range filter.Keys() {
		v := values[i]

		switch {
		case k == "$comment":
			continue
		case k == "$and":
			// The conditions of each part of an $and are conditions of the filter (pageById's cursor comes as one).
			arr, ok := v.(*types.Array)
			if !ok {
				f.complete = false
				continue
			}

			for i := 0; i < arr.Len(); i++ {
				if d, ok := must.NotFail(arr.Get(i)).(*types.Document); ok {
					f.add(d)
				} else {
					f.complete = false
				}
			}

			continue
		case !pdKey.MatchString(k) || strings.HasPrefix(k, backends.ReservedPrefix):
			f.complete = false
			continue
		}

		ops, ok := v.(*types.Document)
		if !ok || !pdOperators(ops) {
			ops = must.NotFail(types.NewDocument("$eq", v)) // {k: v} is {k: {$eq: v}}
		}

		operands := ops.Values()

		for j, op := range ops.Keys() {
			if !f.addOp(k, op, operands[j]) {
				f.complete = false
			}
		}
	}
}

// addOp adds {key: {op: v}} when SQL can check it, and reports whether it could.
func (f *pdFilter) addOp(key, op string, v any) bool {
	switch op {
	case "$eq":
		switch v := v.(type) {
		case string:
			f.conds = append(f.conds, pdCond{key: key, op: "=", args: []any{pdJSON(v)}, strings: true})
			return true
		case types.ObjectID:
			f.conds = append(f.conds, pdCond{key: key, op: "=", args: []any{pdJSON(v)}})
			return true
		}
	case "$in":
		arr, ok := v.(*types.Array)
		if !ok || arr.Len() == 0 || arr.Len() > 30000 {
			return false
		}

		c := pdCond{key: key, op: "IN", args: make([]any, arr.Len()), strings: true}

		for i := range c.args {
			switch e := must.NotFail(arr.Get(i)).(type) {
			case string:
				c.args[i] = pdJSON(e)
			case types.ObjectID:
				c.args[i], c.strings = pdJSON(e), false
			default:
				return false
			}
		}

		f.conds = append(f.conds, c)

		return true
	case "$gt", "$gte", "$lt", "$lte":
		if s, ok := v.(string); ok && pdBound(s) {
			sqlOp := map[string]string{"$gt": ">", "$gte": ">=", "$lt": "<", "$lte": "<="}[op]
			f.conds = append(f.conds, pdCond{key: key, op: sqlOp, args: []any{pdJSON(s)}, bound: &s, strings: true})

			return true
		}
	}

	return false
}

// pins reports whether the filter restricts key to one string, read from an index that starts with it.
func (f *pdFilter) pins(meta *metadata.Collection, key string) bool {
	for _, c := range f.conds {
		if c.key == key && c.op == "=" && c.strings && key != "_id" && pdIndexed(meta, key) {
			return true
		}
	}

	return false
}

// sql is the condition in SQL; withArrays also keeps every document whose field holds an array, which MongoDB matches
// by its elements (JSON text of an array starts with "[").
func (c pdCond) sql(withArrays bool) string {
	e := pdExpr(c.key)

	var s string

	switch c.op {
	case "=":
		s = e + " = ?"
	case "IN":
		s = fmt.Sprintf("%s IN (%s)", e, strings.TrimSuffix(strings.Repeat("?, ", len(c.args)), ", "))
	case ">", ">=":
		// A string's JSON text starts with '"', any other value's from '#' on: MongoDB compares strings with strings.
		s = fmt.Sprintf(`(%s %s ? AND %s < '#')`, e, c.op, e)
	default:
		s = fmt.Sprintf("%s %s ?", e, c.op)
	}

	if withArrays && c.key != "_id" {
		s = fmt.Sprintf(`(%s OR (%s >= '[' AND %s < '\'))`, s, e, e)
	}

	return s
}

// pdKey matches top-level keys that can be written in a JSON path as they are.
var pdKey = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,63}$`)

// pdOperators reports whether d is {$op: …, …}, not a document to compare with.
func pdOperators(d *types.Document) bool {
	for _, k := range d.Keys() {
		if !strings.HasPrefix(k, "$") {
			return false
		}
	}

	return d.Len() > 0
}

// pdExpr is the expression FerretDB builds an index on a top-level key with (see metadata.Registry.IndexesCreate).
func pdExpr(key string) string {
	return fmt.Sprintf("%s->%q", metadata.DefaultColumn, key)
}

// pdJSON is a value as the JSON text FerretDB stores it with, which is what SQLite compares.
func pdJSON(v any) string {
	return string(must.NotFail(sjson.MarshalSingleValue(v)))
}

// pdIndexed reports whether an index starts with key, so conditions and probes on it are index seeks.
func pdIndexed(meta *metadata.Collection, key string) bool {
	if key == "_id" {
		return true
	}

	for _, index := range meta.Settings.Indexes {
		if len(index.Key) > 0 && index.Key[0].Field == key {
			return true
		}
	}

	return false
}

// pdSafe reports whether SQLite, comparing JSON text, orders s against other such strings as MongoDB does (bytewise):
// s has no character that Go's JSON escapes (", \, controls, <, >, &, U+2028, U+2029, invalid UTF-8) and none below
// '#', which would sort before the closing quote of a string that s extends.
func pdSafe(s string) bool {
	for _, r := range s {
		switch {
		case r < '#', r == '\\', r == '<', r == '>', r == '&', r == '\u2028', r == '\u2029', r == utf8.RuneError:
			return false
		}
	}

	return true
}

// pdBound reports whether s can bound an ordered read: safe, and short enough to probe its holes.
func pdBound(s string) bool {
	return len(s) <= 512 && pdSafe(s)
}

// pdHoles are the JSON text ranges where any string lies that MongoDB and SQLite order on different sides of the safe
// string s: right after a prefix of s, a character below the closing quote (space, !) or an escape (\).
func pdHoles(s string) [][2]string {
	holes := make([][2]string, 0, 2*len(s)+2)

	for i := 0; i <= len(s); i++ {
		if i < len(s) && !utf8.RuneStart(s[i]) {
			continue
		}

		p := `"` + s[:i]
		holes = append(holes, [2]string{p + " ", p + `"`}, [2]string{p + `\`, p + "]"})
	}

	return holes
}

// pdAnyIn reports whether a document's key has JSON text in one of the ranges [lo, hi): one index seek each.
func pdAnyIn(ctx context.Context, db *fsql.DB, table string, probes map[string][][2]string) (bool, error) {
	keys := make([]string, 0, len(probes))
	for k := range probes {
		keys = append(keys, k)
	}

	sort.Strings(keys)

	var arms []string
	var args []any

	for _, k := range keys {
		// A bound and the page's last _id share most of their prefixes, so most of their holes.
		ranges := probes[k]
		slices.SortFunc(ranges, func(a, b [2]string) int { return strings.Compare(a[0]+"\x00"+a[1], b[0]+"\x00"+b[1]) })
		ranges = slices.Compact(ranges)

		// The ranges come as one JSON argument; columns named so that no document key can mean them.
		arms = append(arms, fmt.Sprintf(
			`SELECT 1 FROM (SELECT value->>0 AS _ferretdb_lo, value->>1 AS _ferretdb_hi FROM json_each(?)) `+
				`JOIN %q ON %s >= _ferretdb_lo AND %s < _ferretdb_hi`,
			table, pdExpr(k), pdExpr(k),
		))
		args = append(args, string(must.NotFail(json.Marshal(ranges))))
	}

	if len(arms) == 0 {
		return false, nil
	}

	rows, err := db.QueryContext(ctx, strings.Join(arms, " UNION ALL ")+" LIMIT 1", args...)
	if err != nil {
		return false, lazyerrors.Error(err)
	}

	defer rows.Close()

	found := rows.Next()
	if err = rows.Err(); err != nil {
		return false, lazyerrors.Error(err)
	}

	return found, nil
}

// check interfaces
