import Mustache

/// The pages' templates and style sheet, compiled into the binary: the web interface needs no
/// file beside it and no network (it must work on an offline government network).
enum Templates {
    static let library: MustacheLibrary = {
        var library = MustacheLibrary()
        for (name, text) in sources {
            do {
                try library.register(text, named: name)
            } catch {
                preconditionFailure("template \(name) does not parse: \(error)")
            }
        }
        return library
    }()

    static func render(_ name: String, _ context: [String: Any]) -> String {
        library.render(context, withTemplate: name) ?? ""
    }

    static let sources: [String: String] = [
        "layout": """
        <!DOCTYPE html>
        <html lang="{{lang}}">
        <head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
        <title>{{title}} · Dossier</title><link rel="stylesheet" href="/assets/app.css"></head>
        <body>
        <a class="skip" href="#main">{{t.skip}}</a>
        <header><nav aria-label="main">
        <a class="brand" href="/">Dossier</a>
        {{#identity}}
        <a href="/roster">{{t.roster}}</a><a href="/eligible?for=level-up">{{t.eligible}}</a><a href="/quota">{{t.quota}}</a><a href="/due">{{t.due}}</a>
        <a href="/exceptions">{{t.exceptions}}</a><a href="/access-log">{{t.accessLog}}</a><a href="/integrity">{{t.integrity}}</a>
        {{#records}}<a href="/decisions/new">{{t.record}}</a>{{/records}}
        {{/identity}}
        <span class="spacer"></span>
        <a href="?lang={{otherLang}}" lang="{{otherLang}}">{{t.language}}</a>
        {{#identity}}
        <span class="who">{{t.youAre}} <strong>{{person}}</strong> ({{role}})</span>
        <form method="post" action="/logout" class="inline"><input type="hidden" name="csrf" value="{{csrf}}"><button type="submit">{{t.logout}}</button></form>
        {{/identity}}
        </nav></header>
        <main id="main">
        {{#flash}}<p class="flash" role="status">{{flash}}</p>{{/flash}}
        {{{body}}}
        </main>
        </body></html>
        """,
        "login": """
        <h1>{{t.login}}</h1>
        {{#error}}<p class="problem" role="alert">{{error}}</p>{{/error}}
        <form method="post" action="/login" class="card narrow">
        <input type="hidden" name="next" value="{{next}}">
        <label for="user">{{t.user}}</label><input id="user" name="user" autocomplete="username" required autofocus>
        <label for="password">{{t.password}}</label><input id="password" name="password" type="password" autocomplete="current-password" required>
        <button type="submit">{{t.login}}</button>
        </form>
        """,
        "home": """
        <h1>{{t.search}}</h1>
        <form method="get" action="/" class="row" role="search">
        <label for="q" class="sr">{{t.searchHint}}</label><input id="q" name="q" value="{{q}}" placeholder="{{t.searchHint}}">
        <button type="submit">{{t.search}}</button></form>
        {{#searched}}<h2>{{t.results}}</h2>
        {{#hasResults}}<ul class="results">{{#results}}<li><a href="/workers/{{worker}}">{{worker}}</a> {{name}}</li>{{/results}}</ul>{{/hasResults}}
        {{^hasResults}}<p>{{t.notFound}}</p>{{/hasResults}}{{/searched}}
        {{#noNames}}<p class="note">{{t.noNames}}</p>{{/noNames}}
        """,
        "worker": """
        <h1>{{worker}} {{name}}</h1>
        <form method="get" class="row" aria-label="{{t.asOf}}">
        <label for="asOf">{{t.asOf}}</label><input id="asOf" name="asOf" type="date" value="{{asOf}}">
        <label for="knownAt">{{t.knownAt}}</label><input id="knownAt" name="knownAt" value="{{knownAt}}" placeholder="YYYY-MM-DD / 2026-01-31T12:00:00Z" size="26">
        <button type="submit">{{t.show}}</button></form>
        <section class="card"><h2>{{t.status}}</h2><dl class="facts">{{#facts}}<dt>{{label}}</dt><dd>{{value}}</dd>{{/facts}}</dl></section>
        <section class="card"><h2>{{t.timeline}}</h2><div class="timeline">{{{timeline}}}</div></section>
        <section class="card"><h2>{{t.eligibility}}</h2><ul>{{#eligibility}}<li><strong>{{kind}}</strong>: {{#eligible}}✔{{/eligible}}{{^eligible}}✘{{/eligible}} {{reason}}</li>{{/eligibility}}</ul></section>
        <p><a class="button" href="/api/workers/{{worker}}/bundle" download>{{t.bundle}}</a>
        <a class="button" href="{{reportLink}}">{{t.printable}}</a>
        {{#records}} <a class="button" href="/decisions/new?worker={{worker}}">{{t.record}}</a>{{/records}}</p>
        <section class="card"><h2>{{t.trace}}</h2>
        <div class="scroll"><table><thead><tr><th>#</th><th>{{t.effective}}</th><th>{{t.decision}}</th><th>{{t.reference}}</th><th>{{t.authority}}</th><th>{{t.recordedAt}}</th><th>{{t.recordedBy}}</th></tr></thead>
        <tbody>{{#entries}}<tr id="e-{{eventId}}" class="{{#void}}void{{/void}}">
        <td>{{position}}</td><td>{{effective}}</td>
        <td>{{#void}}<del>{{/void}}{{decision}}{{#void}}</del>{{/void}} {{#marks}}<span class="mark">{{.}}</span>{{/marks}}
        {{#hasReplaced}}<br>{{t.replacedBy}} {{#replacedBy}}<a href="#e-{{.}}">{{.}}</a> {{/replacedBy}}{{/hasReplaced}}
        <div class="payload">{{payload}}</div></td>
        <td>{{reference}}</td><td>{{authority}}</td><td>{{recordedAt}}</td><td>{{recordedBy}}</td></tr>{{/entries}}</tbody></table></div>
        </section>
        """,
        "decide": """
        <h1>{{t.record}}</h1>
        <form method="get" action="/decisions/new" class="row">
        <label for="kind">{{t.kind}}</label><select id="kind" name="kind">{{#kinds}}<option value="{{value}}"{{#selected}} selected{{/selected}}>{{value}}</option>{{/kinds}}</select>
        <input type="hidden" name="worker" value="{{subjectValue}}"><button type="submit">{{t.show}}</button></form>
        {{#recorded}}<p class="flash" role="status">{{t.recorded}}: <a href="/workers/{{subjectValue}}">{{summary}}</a></p>{{/recorded}}
        {{#problem}}<div class="problem" role="alert"><p><strong>{{t.refused}}</strong> {{title}}</p><ul>{{#rules}}<li><code>{{rule}}</code> {{message}}</li>{{/rules}}</ul>{{^hasRules}}<p>{{detail}}</p>{{/hasRules}}</div>{{/problem}}
        <form method="post" action="/decisions" class="card grid">
        <input type="hidden" name="csrf" value="{{csrf}}"><input type="hidden" name="decision" value="{{kind}}">
        {{#fields}}<label for="f-{{name}}">{{label}}{{#required}} *{{/required}}</label>
        {{#hasChoices}}<select id="f-{{name}}" name="{{name}}"{{#required}} required{{/required}}><option value=""></option>{{#choices}}<option value="{{value}}"{{#selected}} selected{{/selected}}>{{value}}</option>{{/choices}}</select>{{/hasChoices}}
        {{^hasChoices}}{{#textarea}}<textarea id="f-{{name}}" name="{{name}}" rows="3"{{#required}} required{{/required}}>{{value}}</textarea>{{/textarea}}{{^textarea}}<input id="f-{{name}}" name="{{name}}" type="{{type}}" value="{{value}}"{{#min}} min="{{min}}"{{/min}}{{#max}} max="{{max}}"{{/max}}{{#required}} required{{/required}}>{{/textarea}}{{/hasChoices}}
        {{/fields}}
        {{#offerOverride}}<label for="f-override">{{t.override}}</label><textarea id="f-override" name="override" rows="2">{{overrideValue}}</textarea><label for="f-overrideApproval">{{t.overrideApproval}}</label><input id="f-overrideApproval" name="overrideApproval" type="text" value="{{overrideApprovalValue}}">{{/offerOverride}}
        <button type="submit">{{t.submit}}</button>
        </form>
        """,
        "list": """
        <h1>{{heading}}</h1>
        {{#hasFilters}}<form method="get" class="row" aria-label="{{t.filter}}">{{#filters}}<label for="q-{{name}}">{{label}}</label>{{#hasChoices}}<select id="q-{{name}}" name="{{name}}">{{#choices}}<option value="{{value}}"{{#selected}} selected{{/selected}}>{{label}}</option>{{/choices}}</select>{{/hasChoices}}{{^hasChoices}}<input id="q-{{name}}" name="{{name}}" type="{{type}}" value="{{value}}">{{/hasChoices}}{{/filters}}<button type="submit">{{t.show}}</button></form>{{/hasFilters}}
        {{#csv}}<p><a class="button" href="{{csv}}">{{t.csv}}</a></p>{{/csv}}
        {{{chart}}}
        {{#note}}<p class="note">{{note}}</p>{{/note}}
        <div class="scroll"><table><thead><tr>{{#columns}}<th>{{.}}</th>{{/columns}}</tr></thead>
        <tbody>{{#rows}}<tr>{{#cells}}<td>{{#link}}<a href="{{link}}">{{text}}</a>{{/link}}{{^link}}{{text}}{{/link}}</td>{{/cells}}</tr>{{/rows}}</tbody></table></div>
        {{^hasRows}}<p>{{t.none}}</p>{{/hasRows}}
        {{{after}}}
        """,
        "error": """
        <h1>{{heading}}</h1><p class="problem" role="alert">{{message}}</p><p><a href="/">{{t.home}}</a></p>
        """,
    ]

    static let css = """
    :root{--ink:#1d2433;--muted:#5b6475;--line:#d7dce5;--accent:#8a1c1c;--bg:#f6f7f9;--ok:#1d6b3a}
    *{box-sizing:border-box}body{margin:0;font:15px/1.5 "Noto Sans CJK SC","Source Han Sans SC","PingFang SC","Microsoft YaHei",system-ui,sans-serif;color:var(--ink);background:var(--bg)}
    header{background:#fff;border-bottom:3px solid var(--accent)}nav{display:flex;flex-wrap:wrap;gap:.25rem .9rem;align-items:center;padding:.5rem 1rem;max-width:1300px;margin:auto}
    nav a{color:var(--ink);text-decoration:none;padding:.2rem 0}nav a:hover,nav a:focus{text-decoration:underline}.brand{font-weight:700;color:var(--accent)}
    .spacer{flex:1}.who{color:var(--muted)}main{max-width:1300px;margin:auto;padding:1rem}
    h1{font-size:1.5rem;margin:.5rem 0 1rem}h2{font-size:1.15rem;margin:.2rem 0 .6rem}
    .card{background:#fff;border:1px solid var(--line);border-radius:6px;padding:1rem;margin-bottom:1rem}.narrow{max-width:380px}
    label{display:block;font-weight:600;margin:.4rem 0 .15rem}input,select,textarea{font:inherit;padding:.35rem .5rem;border:1px solid #9aa3b2;border-radius:4px;max-width:100%}
    input:focus,select:focus,textarea:focus,button:focus,a:focus{outline:3px solid #f2b705;outline-offset:1px}
    button,.button{font:inherit;background:var(--accent);color:#fff;border:0;border-radius:4px;padding:.4rem .9rem;cursor:pointer;text-decoration:none;display:inline-block;margin-top:.5rem}
    .row{display:flex;flex-wrap:wrap;gap:.4rem .6rem;align-items:end;margin-bottom:1rem}.row label{margin:0}.row button{margin:0}
    .grid{display:grid;grid-template-columns:minmax(8rem,14rem) 1fr;gap:.3rem 1rem;align-items:center}.grid label{margin:0}.grid button{grid-column:2;justify-self:start}
    .inline{display:inline}.inline button{margin:0;padding:.2rem .6rem}
    table{border-collapse:collapse;width:100%;background:#fff}th,td{border-bottom:1px solid var(--line);padding:.35rem .5rem;text-align:left;vertical-align:top}th{background:#eef0f4}
    .scroll{overflow-x:auto}.void td{color:var(--muted)}.mark{display:inline-block;font-size:.75rem;border:1px solid var(--accent);color:var(--accent);border-radius:3px;padding:0 .3rem;margin-left:.3rem}
    .payload{font-family:ui-monospace,monospace;font-size:.8rem;color:var(--muted);word-break:break-all}
    .problem{background:#fdecec;border:1px solid #e2a3a3;padding:.6rem .9rem;border-radius:4px}.flash{background:#e8f5ec;border:1px solid #9fd0ae;padding:.6rem .9rem;border-radius:4px}
    .note{color:var(--muted)}dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem;margin:0}dt{font-weight:600}dd{margin:0}
    .skip{position:absolute;left:-999px}.skip:focus{left:1rem;top:.5rem;background:#fff;padding:.3rem}.sr{position:absolute;left:-999px}
    .timeline svg,.chart svg{width:100%;height:auto;max-width:1200px}
    svg text{font:11px sans-serif;fill:#1d2433}svg .axis{stroke:#9aa3b2}svg .bar{fill:#dfe6f2;stroke:#7b8bb0}svg .lvl{fill:none;stroke:#8a1c1c;stroke-width:2}
    svg .ev{fill:#8a1c1c}svg .void{fill:#fff;stroke:#9aa3b2}svg .strike{stroke:#5b6475;stroke-width:1.5}svg .ring{fill:none;stroke:#f2b705;stroke-width:2}
    svg .h{fill:#7b8bb0}svg .over{fill:#8a1c1c}svg .q{stroke:#1d6b3a;stroke-width:3}.chart text{font-size:12px}.results li{margin:.2rem 0}
    @media (max-width:640px){.grid{grid-template-columns:1fr}.grid button{grid-column:1}nav{padding:.4rem .6rem}main{padding:.6rem}}
    """
}
