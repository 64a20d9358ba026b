#!/usr/bin/env python3
"""Checks sluice's decoded rows against Debezium's events for the same SQL.

Usage: compare-debezium.py DUMP.txt EVENTS.jsonl

DUMP.txt is what tests/unit/mysql/test_my_golden.c writes for
mysql97-debezium-golden.000002 or mariadb1011-debezium-golden.000002 (rows
decoded by sluice's MySQL decoders, strings whole); EVENTS.jsonl is
tests/golden/debezium-mysql/ or debezium-mariadb/events.jsonl (what
Debezium 3.6.1 / 3.5.0 wrote for the same SQL). Rows are matched in binlog
order (a key change is Debezium's delete + create for one UPDATE row) and
every column value is compared: integers, doubles (floats bit for bit),
strings, bytes (Debezium's base64 decoded), structs and arrays. A null where
Debezium shows a value is accepted when the Debezium schema gives the column
that value as its default (JsonConverter writes a null as the default).

Known differences, printed as MISMATCH lines:
  nums.f_7_3            FLOAT(7,3): Debezium reads the DDL and gives a double; the
                        table map says FLOAT, so sluice needs the DDL hint
                        (my_column_hints.float_double), which this dump does not set
  mariadb_only.u        MariaDB UUID: needs my_column_hints.uuid; Debezium 3.5.0
                        shifts the bytes (its observation 23)
  docs PARTIAL (MySQL)  Debezium drops the PARTIAL_UPDATE_ROWS row (observation 8);
                        sluice decodes it, so the last rows do not line up
"""
import json, sys, base64, re, math
dump, events = sys.argv[1], sys.argv[2]

def parse_value(s, i):
    c = s[i]
    if s.startswith('null', i): return None, i+4
    if s.startswith('(absent)', i): return 'ABSENT', i+8
    if s.startswith('true', i): return True, i+4
    if s.startswith('false', i): return False, i+5
    if c == '"':
        out=[]; i+=1
        while s[i] != '"':
            if s[i] == '\\':
                n=s[i+1]
                if n=='n': out.append('\n'); i+=2
                elif n=='x': out.append(chr(int(s[i+2:i+4],16))); i+=4
                else: out.append(n); i+=2
            else: out.append(s[i]); i+=1
        i+=1
        if s.startswith('...(', i): raise Exception('truncated string')
        return ''.join(out), i
    if s.startswith('0x', i):
        j=i+2
        while j < len(s) and s[j] in '0123456789abcdef': j+=1
        return bytes.fromhex(s[i+2:j]), j
    if c in '[{':
        close = ']' if c=='[' else '}'
        i+=1; items={} if c=='{' else []
        while s[i] != close:
            if c=='{':
                j=s.index('=', i); k=s[i:j]; v,i=parse_value(s,j+1); items[k]=v
            else:
                v,i=parse_value(s,i); items.append(v)
            if s[i]==',': i+=1
        return items, i+1
    m = re.match(r'-?[0-9.]+(E-?[0-9]+)?|NaN|-?Infinity', s[i:])
    t = m.group(0)
    v = float(t) if ('.' in t or 'E' in t or 'N' in t or 'I' in t) else int(t)
    return v, i+len(t)

def parse_row(line):
    body = line.split(':',1)[1]
    cols={}; i=0
    while i < len(body):
        while i < len(body) and body[i]==' ': i+=1
        if i>=len(body): break
        j=body.index('=', i); name=body[i:j]
        v,i=parse_value(body, j+1); cols[name]=v
    return cols

rows=[]  # (kind, before, after, table)
table=None; kind=None; cur=None
for line in open(dump):
    st=line.strip()
    m=re.match(r'@\d+ (WRITE_ROWS\S*|UPDATE_ROWS\S*|DELETE_ROWS\S*|PARTIAL\S*)', st)
    if m: kind=m.group(1).split('_')[0]; continue
    m=re.match(r'table `(\S+)`\.`(\S+)`', st)
    if m: table=m.group(2); continue
    if st.startswith('before:'):
        cur={'kind':kind,'table':table,'before':parse_row(st),'after':None}
        if kind=='DELETE': rows.append(cur); cur=None
    elif st.startswith('after:'):
        if kind=='WRITE': rows.append({'kind':kind,'table':table,'before':None,'after':parse_row(st)})
        else: cur['after']=parse_row(st); rows.append(cur); cur=None

evs=[]
for line in open(events):
    e=json.loads(line)
    if e['value'] is None: continue
    v=json.loads(e['value'])
    p=v['payload']
    if 'op' not in p or p['op'] in ('t',): continue
    evs.append((e['topic'].split('.')[-1], p, v['schema']))

def field_schemas(schema, which):
    for f in schema['fields']:
        if f['field']==which: return {x['field']:x for x in f['fields']}
    return {}

def norm(dv, fs):
    # Debezium JSON payload value -> comparable python
    name = fs.get('name','') if fs else ''
    t = fs.get('type') if fs else None
    if dv is None: return None
    if t=='bytes' and isinstance(dv,str): return base64.b64decode(dv)
    if t=='struct':
        return {k:(base64.b64decode(x) if k=='wkb' and x is not None else x) for k,x in dv.items()}
    return dv

def same(mine, theirs, fs):
    if isinstance(mine, float) or isinstance(theirs, float):
        if mine is None or theirs is None: return False
        if fs and fs.get('type')=='float':
            import struct
            return struct.pack('<f', mine)==struct.pack('<f', theirs)
        return float(mine)==float(theirs) or (math.isnan(mine) and math.isnan(theirs))
    if isinstance(mine, dict) and isinstance(theirs, dict):
        return all(same(mine.get(k), theirs.get(k), None) for k in set(mine)|set(theirs))
    if isinstance(mine, list) and isinstance(theirs, list):
        return len(mine)==len(theirs) and all(same(a,b,{'type':'float'}) for a,b in zip(mine,theirs))
    return mine==theirs

mism=0; checked=0; ei=0; notes=[]
for r in rows:
    if r['table'] in ('capture_end',) and ei>=len(evs): break
    if ei>=len(evs): print('ran out of events at', r['table']); break
    topic,p,schema=evs[ei]
    pairs=[]
    if r['kind']=='UPDATE' and p['op']=='d':
        # key change: delete then create
        pairs.append(('before', r['before'], p, schema)); ei+=1
        topic2,p2,schema2=evs[ei]; pairs.append(('after', r['after'], p2, schema2)); ei+=1
    else:
        if r['before'] is not None: pairs.append(('before', r['before'], p, schema))
        if r['after'] is not None: pairs.append(('after', r['after'], p, schema))
        ei+=1
    if topic != r['table']:
        print('TABLE MISMATCH', topic, r['table'], r['kind'], p['op']); mism+=1; continue
    for which, mine, pp, sch in pairs:
        theirs=pp[which]; fss=field_schemas(sch, which)
        if theirs is None: print('no', which, 'in debezium for', r['table']); mism+=1; continue
        for col,mv in mine.items():
            if col not in theirs: notes.append('column %s.%s not in Debezium'%(r['table'],col)); continue
            fs=fss.get(col,{})
            tv=norm(theirs[col], fs)
            checked+=1
            if same(mv, tv, fs): continue
            if mv is None and 'default' in fs:
                continue  # JsonConverter writes a null as the default
            mism+=1
            print('MISMATCH %s.%s (%s %s): mine=%r debezium=%r'%(r['table'],col,which,fs.get('name',fs.get('type')),mv if not isinstance(mv,bytes) else mv.hex(), tv if not isinstance(tv,bytes) else tv.hex()))
print('rows', len(rows), 'events', len(evs), 'values checked', checked, 'mismatches', mism)
for n in sorted(set(notes)): print(n)
