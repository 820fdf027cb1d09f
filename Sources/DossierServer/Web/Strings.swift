import Hummingbird

/// The interface's words, Chinese by default and English on request (Accept-Language, or the
/// switch in the page header, kept in a cookie).
struct Strings: Sendable {
    let english: Bool

    var lang: String { english ? "en" : "zh-CN" }

    subscript(_ key: String) -> String {
        guard let pair = Self.table[key] else { return key.hasPrefix("field.") ? String(key.dropFirst(6)) : key }
        return english ? pair.1 : pair.0
    }

    /// Every word as a dictionary for templates (`{{t.login}}`).
    var all: [String: String] {
        Dictionary(uniqueKeysWithValues: Self.table.map { ($0.key, english ? $0.value.1 : $0.value.0) })
    }

    static func of(_ request: Request) -> Strings {
        if let choice = request.uri.queryParameters.get("lang") { return Strings(english: choice == "en") }
        if let cookie = request.cookies["dossier_lang"]?.value { return Strings(english: cookie == "en") }
        let accept = request.headers[.acceptLanguage]?.lowercased() ?? ""
        return Strings(english: accept.hasPrefix("en"))
    }

    static let table: [String: (String, String)] = [
        "app": ("Dossier 社区工作者档案", "Dossier personnel ledger"),
        "login": ("登录", "Log in"), "logout": ("退出", "Log out"), "user": ("用户名", "User name"),
        "password": ("密码", "Password"), "loginFailed": ("用户名或密码错误。", "Wrong user name or password."),
        "tooMany": ("失败次数过多，请稍后再试。", "Too many failed logins; try again later."),
        "search": ("查询", "Search"), "searchHint": ("工号或姓名", "Worker id or name"),
        "roster": ("花名册", "Roster"), "eligible": ("资格名单", "Eligibility"), "quota": ("配备额度", "Quota"),
        "exceptions": ("政策例外", "Policy exceptions"), "accessLog": ("访问记录", "Access log"),
        "integrity": ("完整性", "Integrity"), "record": ("录入决定", "Record a decision"),
        "worker": ("工号", "Worker"), "name": ("姓名", "Name"), "status": ("状态", "Status"), "post": ("职务", "Post"),
        "role": ("岗位", "Role"), "level": ("等级", "Level"), "community": ("社区", "Community"), "street": ("街道", "Street"),
        "district": ("区", "District"), "city": ("市", "City"), "reason": ("理由", "Reason"),
        "asOf": ("截至日期", "As of"), "knownAt": ("按当时所知", "As known at"), "show": ("显示", "Show"),
        "timeline": ("职业时间线", "Career timeline"), "trace": ("全部记录", "Every recorded decision"),
        "eligibility": ("资格", "Eligibility"), "bundle": ("下载证据包", "Download evidence bundle"),
        "printable": ("可打印的档案记录", "Printable record (Chinese)"),
        "effective": ("生效日期", "Effective"), "decision": ("决定", "Decision"), "reference": ("文号", "Reference"),
        "authority": ("决定机关", "Authority"), "recordedAt": ("录入时间", "Recorded at"), "recordedBy": ("录入人", "Recorded by"),
        "corrected": ("已更正", "corrected"), "rescinded": ("已撤销", "rescinded"), "overturned": ("已推翻", "overturned"),
        "exception": ("政策例外", "policy exception"), "replacedBy": ("被以下决定取代", "replaced by"),
        "override": ("例外理由（依政策越权录入须说明）", "Override justification (records despite the rules)"),
        "overrideApproval": ("例外批准文号（谁批准了例外）", "Override approval (the approving document's reference)"),
        "refused": ("决定被拒绝：", "Decision refused:"), "recorded": ("已录入", "Recorded"),
        "submit": ("提交", "Submit"), "kind": ("决定类型", "Decision kind"), "csv": ("下载 CSV", "Download CSV"),
        "headcount": ("在岗人数", "Headcount"), "perTenThousand": ("每万人配备 / 标准", "Per 10,000 residents / standard"),
        "population": ("城镇常住人口", "Urban residents"),
        "noPopulation": ("未录入人口", "no population recorded"), "overQuota": ("超编", "over quota"),
        "belowQuota": ("未满编", "below quota"), "atQuota": ("满编", "at quota"), "gap": ("缺口 / 超编", "Gap"),
        "since": ("起始日期", "Since"), "until": ("截止日期", "Until"), "due": ("待办事项", "Needs attention"),
        "dueSince": ("到期日", "Due since"), "subject": ("对象", "Subject"), "items": ("项", "items"),
        "due.secondment-overdue": ("借调逾期未结束", "secondment past its end"),
        "due.temporary-post-overdue": ("挂职逾期未结束", "temporary post past its end"),
        "due.level-review": ("应进行晋级评审", "due for a level review"),
        "due.assessment-missing": ("缺上年度考核", "no assessment for last year"),
        "due.below-quota": ("低于核定配备", "staffed below the approved total"),
        "due.no-population": ("未录入人口数据", "no population figure"),
        "due.public-institution": ("符合事业编制条件", "eligible for public-institution staff"),
        "due.fault-ruling-overdue": ("容错认定逾期", "fault-tolerance ruling overdue"), "latestCheckpoint": ("最新签名检查点", "Latest signed checkpoint"),
        "lastVerify": ("最近一次校验", "Last verification"), "verifyNow": ("立即校验", "Verify now"),
        "none": ("（无）", "(none)"), "youAre": ("当前用户", "Signed in as"), "jurisdictions": ("管辖范围", "Jurisdictions"),
        "for": ("名单", "List"), "levelUp": ("晋级候选", "Level-up candidates"),
        "publicInstitution": ("事业编制候选", "Public-institution candidates"), "exitReview": ("退出审查", "Exit review"),
        "results": ("查询结果", "Results"), "notFound": ("未找到", "Not found"), "error": ("出错了", "Something went wrong"),
        "forbidden": ("无权进行此操作", "Not allowed"), "reader": ("读取人", "Reader"), "at": ("时间", "At"), "what": ("内容", "What"),
        "language": ("English", "中文"), "events": ("事件", "Events"), "size": ("规模", "Size"), "root": ("根哈希", "Root"),
        "filter": ("筛选", "Filter"), "workers": ("人", "workers"), "home": ("首页", "Home"),
        "skip": ("跳到正文", "Skip to content"), "noNames": ("审计角色不显示姓名。", "Names are not shown to auditors."),
        "onBehalfOf": ("代为录入（备注）", "On behalf of (a note)"), "optional": ("可选", "optional"),
        "field.worker": ("工号", "Worker id"), "field.name": ("姓名", "Name"), "field.effective": ("生效日期", "Effective date"),
        "field.authority": ("决定机关", "Authority"), "field.reference": ("文号", "Reference"), "field.level": ("等级", "Level"),
        "field.grounds": ("依据", "Grounds"), "field.post": ("职务", "Post"), "field.role": ("岗位", "Role"),
        "field.community": ("社区", "Community"), "field.street": ("街道", "Street"), "field.district": ("区", "District"),
        "field.city": ("市", "City"), "field.education": ("学历", "Education"), "field.year": ("年度", "Year"),
        "field.grade": ("考核等次", "Grade"), "field.certificate": ("职业资格", "Certificate"), "field.kind": ("类别", "Kind"),
        "field.hours": ("学时", "Hours"), "field.to": ("借调单位", "Seconded to"), "field.toLevel": ("借调层级", "Level of the post"),
        "field.until": ("截止日期", "Until"), "field.approval": ("批准文号", "Approval"), "field.homeAgency": ("派出单位", "Home agency"),
        "field.description": ("情况说明", "Description"), "field.sanction": ("处分", "Sanction"), "field.misconduct": ("所涉事件编号", "Misconduct event id"),
        "field.ruling": ("认定结果", "Ruling"), "field.appealed": ("被申诉决定编号", "Appealed event id"), "field.against": ("被申诉决定或选拔编号", "Appealed decision or selection id"),
        "field.for": ("选拔类别", "Selection for"), "field.selected": ("入选人员编号（JSON 列表）", "Selected (JSON list of worker ids)"),
        "field.passedOver": ("未入选人员编号（JSON 列表）", "Passed over (JSON list of worker ids)"), "field.criteria": ("选拔条件", "Criteria"), "field.outcome": ("复核结果", "Outcome"),
        "field.corrects": ("被更正决定编号", "Corrected event id"), "field.rescinds": ("被撤销决定编号", "Rescinded event id"),
        "field.jurisdiction": ("辖区", "Jurisdiction"), "field.urbanPopulation": ("城镇常住人口", "Urban population"),
        "field.parameters": ("政策参数（JSON）", "Parameters (JSON)"), "field.correctedEffective": ("更正后生效日期", "Corrected effective date"),
    ]
}
