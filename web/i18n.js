// Translations. Every user-visible string goes through t(key, params).
// Placeholders are written {name}; for counts, a `key_one` entry (if present)
// is used when params.count === 1.

const STORAGE_KEY = 'convene.lang';

export const LANGS = [
  { code: 'en', label: 'English' },
  { code: 'zh-CN', label: '简体中文' },
];

const en = {
  'app.tagline': 'Convene — chat and meetings for your team, on your own server.',
  'lang.label': 'Language',

  'common.cancel': 'Cancel',
  'common.close': 'Close',
  'common.confirm': 'Confirm',
  'common.delete': 'Delete',
  'common.loading': 'Loading…',
  'common.save': 'Save',

  'error.generic': 'Something went wrong (HTTP {status}).',
  'error.network': 'Cannot reach the server. Check your connection and try again.',
  'error.rateLimited': 'Too many attempts. Please wait a moment and try again.',
  'error.server': 'The server had a problem. Please try again.',
  'error.unexpected': 'Something unexpected went wrong.',

  'boot.offlineTitle': 'Cannot reach Convene',
  'boot.offlineText': 'The server is not answering. Check your connection, then try again.',
  'boot.retry': 'Try again',

  'field.displayName': 'Display name',
  'field.email': 'Email',
  'field.password': 'Password',
  'field.passwordHint': 'A long passphrase is easiest to remember and hardest to guess.',
  'field.username': 'Username',
  'field.workspaceName': 'Workspace name',

  'login.title': 'Sign in',
  'login.subtitle': 'Welcome back to Convene.',
  'login.login': 'Email or username',
  'login.submit': 'Sign in',
  'login.noAccount': 'No account yet?',
  'login.register': 'Create one',
  'login.sessionEnded': 'Your session has ended. Please sign in again.',
  'login.sessionExpired': 'Your session has expired. Please sign in again.',
  'login.signedOutElsewhere': 'You signed out in another tab.',

  'setup.title': 'Set up Convene',
  'setup.subtitle': 'Create the owner account and your first workspace.',
  'setup.token': 'Setup token',
  'setup.tokenHint': 'Open the setup link the server printed when it first started, or paste its token here.',
  'setup.workspace': 'Workspace',
  'setup.owner': 'Owner account',
  'setup.submit': 'Create workspace',
  'setup.done': 'Convene is already set up. Sign in to continue.',

  'register.title': 'Create your account',
  'register.subtitle': 'Join a workspace that is open to new members.',
  'register.workspace': 'Workspace',
  'register.submit': 'Create account',
  'register.haveAccount': 'Already have an account? Sign in',
  'register.closedTitle': 'Joining is by invitation',
  'register.closedText': 'Ask a workspace admin for an invite link.',

  'invite.title': 'You are invited',
  'invite.lead': 'You have been invited to join',
  'invite.asRole': 'as {role}',
  'invite.join': 'Join workspace',
  'invite.register': 'Create account and join',
  'invite.haveAccount': 'Already have an account?',
  'invite.signIn': 'Sign in to join',
  'invite.signedInAs': 'Signed in as {name} ·',
  'invite.notYou': 'Not you? Sign out',
  'invite.alreadyMember': 'You are already a member of this workspace.',
  'invite.open': 'Open workspace',
  'invite.invalidTitle': 'This invite link does not work',
  'invite.invalidText': 'It may have expired, been used up or been revoked. Ask for a new one.',

  'frame.menu': 'Menu',
  'frame.skip': 'Skip to content',
  'frame.workspaces': 'Workspaces',
  'frame.noWorkspace': 'No workspace',
  'frame.noWorkspaces': 'You are not in any workspace yet.',
  'frame.createWorkspace': 'Create workspace',
  'frame.leaveWorkspace': 'Leave workspace',
  'frame.leaveTitle': 'Leave {name}?',
  'frame.leaveText': 'You will lose access to its channels and teams until someone invites you again.',
  'frame.left': 'You left {name}.',
  'frame.userMenu': 'Account menu for {name}',

  'nav.label': 'Workspace navigation',
  'nav.home': 'Home',
  'nav.channels': 'Channels',
  'nav.channelsSoon': 'Chat arrives soon.',
  'nav.admin': 'Administration',
  'nav.members': 'Members',
  'nav.teams': 'Teams',
  'nav.invites': 'Invites',
  'nav.audit': 'Audit log',
  'nav.settings': 'Settings',
  'nav.account': 'Account',
  'nav.profile': 'Profile',
  'nav.sessions': 'Sessions',
  'nav.signOut': 'Sign out',
  'nav.workspaces': 'Workspaces',

  'home.welcome': 'Welcome to {name}',
  'home.subtitle': 'Your role: {role}',
  'home.chatSoonTitle': 'Chat arrives soon',
  'home.chatSoonText': 'Channels and direct messages will appear here.',
  'home.getStarted': 'Get started',
  'home.invitePeople': 'Invite people',
  'home.arrangeTeams': 'Arrange teams',
  'home.settings': 'Workspace settings',

  'workspaces.title': 'Your workspaces',
  'workspaces.emptyTitle': 'No workspaces yet',
  'workspaces.emptyText': 'Create a workspace, or open an invite link from a colleague.',

  'role.owner': 'Owner',
  'role.admin': 'Admin',
  'role.member': 'Member',
  'role.guest': 'Guest',

  'profile.title': 'Profile',
  'profile.subtitle': 'How others see you, and your preferences.',
  'profile.details': 'Details',
  'profile.locale': 'Language',
  'profile.timeZone': 'Time zone',
  'profile.timeZoneHint': 'This device uses {zone}.',
  'profile.saved': 'Profile saved.',
  'profile.badZone': 'Choose a time zone from the list, such as Asia/Shanghai or UTC.',

  'avatar.title': 'Picture',
  'avatar.choose': 'Choose picture',
  'avatar.upload': 'Upload',
  'avatar.remove': 'Remove picture',
  'avatar.hint': 'PNG, JPEG, WebP or GIF, up to 5 MB.',
  'avatar.badType': 'Choose a PNG, JPEG, WebP or GIF image.',
  'avatar.tooLarge': 'That image is larger than 5 MB.',
  'avatar.previewAlt': 'Preview of the new picture',
  'avatar.saved': 'Picture updated.',
  'avatar.removed': 'Picture removed.',

  'password.title': 'Change password',
  'password.current': 'Current password',
  'password.new': 'New password',
  'password.confirm': 'Repeat new password',
  'password.submit': 'Change password',
  'password.mismatch': 'The new passwords do not match.',
  'password.saved': 'Password changed. Your other sessions have been signed out.',

  'sessions.title': 'Sessions',
  'sessions.subtitle': 'Devices where you are signed in.',
  'sessions.current': 'This device',
  'sessions.unknownDevice': 'Unknown device',
  'sessions.lastSeen': 'Last active',
  'sessions.signedIn': 'Signed in',
  'sessions.revoke': 'Revoke',
  'sessions.revokeTitle': 'Sign out this device?',
  'sessions.revokeText': '{device} will be signed out at once.',
  'sessions.revoked': 'Session revoked.',
  'sessions.everywhere': 'Sign out everywhere',
  'sessions.everywhereTitle': 'Sign out everywhere?',
  'sessions.everywhereText': 'Every device, including this one, will be signed out.',

  'members.title': 'Members',
  'members.search': 'Search members',
  'members.searchPlaceholder': 'Search by name, username or email',
  'members.count': '{count} members',
  'members.count_one': '1 member',
  'members.none': 'No members yet',
  'members.noMatch': 'No members match your search',
  'members.you': 'You',
  'members.joined': 'Joined',
  'members.roleFor': 'Role of {name}',
  'members.roleChanged': '{name} is now {role}.',
  'members.deactivate': 'Deactivate',
  'members.reactivate': 'Reactivate',
  'members.deactivated': '{name} was deactivated and signed out everywhere.',
  'members.reactivated': '{name} was reactivated.',
  'members.deactivatedBadge': 'Deactivated',
  'members.remove': 'Remove',
  'members.removeTitle': 'Remove {name} from the workspace?',
  'members.removeText': 'They lose access to this workspace. Their account stays.',
  'members.removed': '{name} was removed.',

  'teams.title': 'Teams',
  'teams.subtitle': 'Departments and groups, nested as your organisation is.',
  'teams.emptyTitle': 'No teams yet',
  'teams.emptyText': 'Create your first team below.',
  'teams.topLevel': 'None (top level)',
  'teams.createTitle': 'New team',
  'teams.name': 'Team name',
  'teams.parent': 'Parent team',
  'teams.create': 'Create team',
  'teams.created': 'Team {name} created.',
  'teams.rename': 'Rename',
  'teams.newName': 'New name',
  'teams.move': 'Move',
  'teams.addChild': 'Add sub-team',
  'teams.under': 'Part of {name}',
  'teams.isTopLevel': 'Top-level team',
  'teams.moveUnder': 'Move {name} under',
  'teams.deleteTitle': 'Delete {name}?',
  'teams.deleteText': 'Its members stay in the workspace. A team with sub-teams cannot be deleted.',
  'teams.deleted': 'Team {name} deleted.',
  'teams.memberCount': '{count} members',
  'teams.memberCount_one': '1 member',
  'teams.pickTitle': 'Select a team',
  'teams.pickText': 'Choose a team to see and manage its members.',
  'teams.membersOf': 'Members',
  'teams.noMembers': 'No one is in this team yet',
  'teams.lead': 'Lead',
  'teams.leadOn': '{name} now leads this team.',
  'teams.leadOff': '{name} no longer leads this team.',
  'teams.removeMember': 'Remove',
  'teams.memberRemoved': '{name} left {team}.',
  'teams.addMember': 'Add member',
  'teams.add': 'Add',
  'teams.memberAdded': '{name} joined {team}.',
  'teams.everyoneIn': 'Every active member is already in this team.',

  'invites.title': 'Invites',
  'invites.subtitle': 'Links that let people join this workspace.',
  'invites.createTitle': 'New invite link',
  'invites.email': 'Email (optional)',
  'invites.emailHint': 'Only this address can use the link.',
  'invites.role': 'Role',
  'invites.expires': 'Expires after',
  'invites.hours24': '1 day',
  'invites.days3': '3 days',
  'invites.days7': '7 days',
  'invites.days30': '30 days',
  'invites.maxUses': 'Maximum uses (optional)',
  'invites.maxUsesHint': 'Leave empty for no limit.',
  'invites.create': 'Create invite link',
  'invites.linkReady': 'Invite link',
  'invites.linkFor': 'Invite link for {email}',
  'invites.linkHint': 'Send this link to the people you invite.',
  'invites.copy': 'Copy link',
  'invites.copied': 'Link copied.',
  'invites.copyManually': 'Copy the selected link with Ctrl+C.',
  'invites.listTitle': 'Invite links',
  'invites.none': 'No invite links yet',
  'invites.anyone': 'Anyone with the link',
  'invites.uses': '{uses} uses',
  'invites.usesOf': '{uses} of {max} uses',
  'invites.expiresAt': 'Expires',
  'invites.createdAt': 'Created',
  'invites.revoke': 'Revoke',
  'invites.revokeTitle': 'Revoke this invite link?',
  'invites.revokeText': 'Nobody will be able to join with it any more.',
  'invites.revoked': 'Invite link revoked.',
  'invites.status.active': 'Active',
  'invites.status.expired': 'Expired',
  'invites.status.revoked': 'Revoked',
  'invites.status.used': 'Used up',

  'audit.title': 'Audit log',
  'audit.subtitle': 'Who changed what in this workspace, newest first.',
  'audit.filter': 'Action',
  'audit.filterPlaceholder': 'e.g. member.deactivated, or team. for all team actions',
  'audit.time': 'Time',
  'audit.actor': 'Actor',
  'audit.action': 'Action',
  'audit.target': 'Target',
  'audit.detail': 'Detail',
  'audit.ip': 'IP address',
  'audit.system': 'System',
  'audit.none': 'Nothing recorded yet',
  'audit.noMatch': 'No entries for this action',
  'audit.older': 'Show older entries',

  'settings.title': 'Workspace settings',
  'settings.subtitle': 'Name and who may join.',
  'settings.slug': 'Short name',
  'settings.created': 'Created',
  'settings.openRegistration': 'Anyone may register and join this workspace',
  'settings.openRegistrationHint': 'When off, people join only through invite links.',
  'settings.saved': 'Settings saved.',

  'notFound.title': 'Page not found',
  'notFound.text': 'The address may be mistyped, or the page has moved.',
  'notFound.home': 'Go to start page',
  'notFound.workspaceTitle': 'Workspace not found',
  'notFound.workspaceText': 'It does not exist, or you are not a member.',
  'forbidden.title': 'Admins only',
  'forbidden.text': 'Only owners and admins of this workspace can open this page.',

  'realtime.reconnecting': 'Reconnecting…',
  'time.justNow': 'just now',
};

const zhCN = {
  'app.tagline': 'Convene —— 部署在你自己服务器上的团队聊天与会议。',
  'lang.label': '语言',

  'common.cancel': '取消',
  'common.close': '关闭',
  'common.confirm': '确认',
  'common.delete': '删除',
  'common.loading': '加载中…',
  'common.save': '保存',

  'error.generic': '出错了（HTTP {status}）。',
  'error.network': '无法连接服务器，请检查网络后重试。',
  'error.rateLimited': '尝试次数过多，请稍后再试。',
  'error.server': '服务器出现问题，请重试。',
  'error.unexpected': '发生了意外错误。',

  'boot.offlineTitle': '无法连接 Convene',
  'boot.offlineText': '服务器没有响应。请检查网络连接后重试。',
  'boot.retry': '重试',

  'field.displayName': '显示名称',
  'field.email': '邮箱',
  'field.password': '密码',
  'field.passwordHint': '较长的密码短语既好记又难猜。',
  'field.username': '用户名',
  'field.workspaceName': '工作区名称',

  'login.title': '登录',
  'login.subtitle': '欢迎回到 Convene。',
  'login.login': '邮箱或用户名',
  'login.submit': '登录',
  'login.noAccount': '还没有账号？',
  'login.register': '注册',
  'login.sessionEnded': '你的会话已结束，请重新登录。',
  'login.sessionExpired': '你的会话已过期，请重新登录。',
  'login.signedOutElsewhere': '你已在其他标签页中退出登录。',

  'setup.title': '设置 Convene',
  'setup.subtitle': '创建所有者账号和第一个工作区。',
  'setup.token': '设置令牌',
  'setup.tokenHint': '打开服务器首次启动时打印的设置链接，或在此粘贴其中的令牌。',
  'setup.workspace': '工作区',
  'setup.owner': '所有者账号',
  'setup.submit': '创建工作区',
  'setup.done': 'Convene 已完成设置，请登录继续。',

  'register.title': '创建账号',
  'register.subtitle': '加入一个开放注册的工作区。',
  'register.workspace': '工作区',
  'register.submit': '创建账号',
  'register.haveAccount': '已有账号？去登录',
  'register.closedTitle': '仅限邀请加入',
  'register.closedText': '请向工作区管理员索取邀请链接。',

  'invite.title': '你收到了邀请',
  'invite.lead': '你被邀请加入',
  'invite.asRole': '身份：{role}',
  'invite.join': '加入工作区',
  'invite.register': '创建账号并加入',
  'invite.haveAccount': '已有账号？',
  'invite.signIn': '登录后加入',
  'invite.signedInAs': '当前登录：{name} ·',
  'invite.notYou': '不是你？退出登录',
  'invite.alreadyMember': '你已经是该工作区的成员。',
  'invite.open': '打开工作区',
  'invite.invalidTitle': '该邀请链接无效',
  'invite.invalidText': '它可能已过期、已用完或已被撤销。请重新索取。',

  'frame.menu': '菜单',
  'frame.skip': '跳到主要内容',
  'frame.workspaces': '工作区',
  'frame.noWorkspace': '未选择工作区',
  'frame.noWorkspaces': '你还没有加入任何工作区。',
  'frame.createWorkspace': '创建工作区',
  'frame.leaveWorkspace': '退出工作区',
  'frame.leaveTitle': '退出“{name}”？',
  'frame.leaveText': '退出后你将无法访问其中的频道和团队，除非再次被邀请。',
  'frame.left': '你已退出“{name}”。',
  'frame.userMenu': '{name} 的账号菜单',

  'nav.label': '工作区导航',
  'nav.home': '首页',
  'nav.channels': '频道',
  'nav.channelsSoon': '聊天功能即将上线。',
  'nav.admin': '管理',
  'nav.members': '成员',
  'nav.teams': '团队',
  'nav.invites': '邀请',
  'nav.audit': '审计日志',
  'nav.settings': '设置',
  'nav.account': '账号',
  'nav.profile': '个人资料',
  'nav.sessions': '登录设备',
  'nav.signOut': '退出登录',
  'nav.workspaces': '工作区',

  'home.welcome': '欢迎来到 {name}',
  'home.subtitle': '你的角色：{role}',
  'home.chatSoonTitle': '聊天功能即将上线',
  'home.chatSoonText': '频道和私信将显示在这里。',
  'home.getStarted': '开始使用',
  'home.invitePeople': '邀请成员',
  'home.arrangeTeams': '设置团队',
  'home.settings': '工作区设置',

  'workspaces.title': '我的工作区',
  'workspaces.emptyTitle': '还没有工作区',
  'workspaces.emptyText': '创建一个工作区，或打开同事发来的邀请链接。',

  'role.owner': '所有者',
  'role.admin': '管理员',
  'role.member': '成员',
  'role.guest': '访客',

  'profile.title': '个人资料',
  'profile.subtitle': '他人看到的你，以及你的偏好设置。',
  'profile.details': '基本信息',
  'profile.locale': '语言',
  'profile.timeZone': '时区',
  'profile.timeZoneHint': '本设备的时区是 {zone}。',
  'profile.saved': '个人资料已保存。',
  'profile.badZone': '请从列表中选择时区，例如 Asia/Shanghai 或 UTC。',

  'avatar.title': '头像',
  'avatar.choose': '选择图片',
  'avatar.upload': '上传',
  'avatar.remove': '移除头像',
  'avatar.hint': '支持 PNG、JPEG、WebP 或 GIF，最大 5 MB。',
  'avatar.badType': '请选择 PNG、JPEG、WebP 或 GIF 图片。',
  'avatar.tooLarge': '图片超过 5 MB。',
  'avatar.previewAlt': '新头像预览',
  'avatar.saved': '头像已更新。',
  'avatar.removed': '头像已移除。',

  'password.title': '修改密码',
  'password.current': '当前密码',
  'password.new': '新密码',
  'password.confirm': '再次输入新密码',
  'password.submit': '修改密码',
  'password.mismatch': '两次输入的新密码不一致。',
  'password.saved': '密码已修改，你在其他设备上的登录已退出。',

  'sessions.title': '登录设备',
  'sessions.subtitle': '你当前登录的设备。',
  'sessions.current': '当前设备',
  'sessions.unknownDevice': '未知设备',
  'sessions.lastSeen': '最近活动',
  'sessions.signedIn': '登录于',
  'sessions.revoke': '撤销',
  'sessions.revokeTitle': '让该设备退出登录？',
  'sessions.revokeText': '{device} 将立即退出登录。',
  'sessions.revoked': '已撤销该会话。',
  'sessions.everywhere': '退出所有设备',
  'sessions.everywhereTitle': '退出所有设备？',
  'sessions.everywhereText': '所有设备（包括当前设备）都将退出登录。',

  'members.title': '成员',
  'members.search': '搜索成员',
  'members.searchPlaceholder': '按姓名、用户名或邮箱搜索',
  'members.count': '共 {count} 名成员',
  'members.none': '还没有成员',
  'members.noMatch': '没有符合条件的成员',
  'members.you': '你',
  'members.joined': '加入于',
  'members.roleFor': '{name} 的角色',
  'members.roleChanged': '{name} 现在是{role}。',
  'members.deactivate': '停用',
  'members.reactivate': '重新启用',
  'members.deactivated': '已停用 {name}，其所有设备均已退出登录。',
  'members.reactivated': '已重新启用 {name}。',
  'members.deactivatedBadge': '已停用',
  'members.remove': '移除',
  'members.removeTitle': '将 {name} 移出工作区？',
  'members.removeText': '对方将无法访问该工作区，但账号会保留。',
  'members.removed': '已移除 {name}。',

  'teams.title': '团队',
  'teams.subtitle': '按组织架构嵌套的部门和小组。',
  'teams.emptyTitle': '还没有团队',
  'teams.emptyText': '在下方创建第一个团队。',
  'teams.topLevel': '无（顶级）',
  'teams.createTitle': '新建团队',
  'teams.name': '团队名称',
  'teams.parent': '上级团队',
  'teams.create': '创建团队',
  'teams.created': '已创建团队“{name}”。',
  'teams.rename': '重命名',
  'teams.newName': '新名称',
  'teams.move': '移动',
  'teams.addChild': '添加子团队',
  'teams.under': '隶属于“{name}”',
  'teams.isTopLevel': '顶级团队',
  'teams.moveUnder': '将“{name}”移动到',
  'teams.deleteTitle': '删除“{name}”？',
  'teams.deleteText': '团队成员仍会留在工作区。含有子团队的团队无法删除。',
  'teams.deleted': '已删除团队“{name}”。',
  'teams.memberCount': '{count} 名成员',
  'teams.pickTitle': '选择一个团队',
  'teams.pickText': '选择团队以查看和管理其成员。',
  'teams.membersOf': '成员',
  'teams.noMembers': '该团队还没有成员',
  'teams.lead': '负责人',
  'teams.leadOn': '{name} 现在是该团队的负责人。',
  'teams.leadOff': '{name} 不再是该团队的负责人。',
  'teams.removeMember': '移除',
  'teams.memberRemoved': '{name} 已离开“{team}”。',
  'teams.addMember': '添加成员',
  'teams.add': '添加',
  'teams.memberAdded': '{name} 已加入“{team}”。',
  'teams.everyoneIn': '所有在职成员都已在该团队中。',

  'invites.title': '邀请',
  'invites.subtitle': '用于加入本工作区的链接。',
  'invites.createTitle': '新建邀请链接',
  'invites.email': '邮箱（可选）',
  'invites.emailHint': '仅限该邮箱使用此链接。',
  'invites.role': '角色',
  'invites.expires': '有效期',
  'invites.hours24': '1 天',
  'invites.days3': '3 天',
  'invites.days7': '7 天',
  'invites.days30': '30 天',
  'invites.maxUses': '最多使用次数（可选）',
  'invites.maxUsesHint': '留空表示不限次数。',
  'invites.create': '创建邀请链接',
  'invites.linkReady': '邀请链接',
  'invites.linkFor': '发给 {email} 的邀请链接',
  'invites.linkHint': '把此链接发送给受邀者。',
  'invites.copy': '复制链接',
  'invites.copied': '链接已复制。',
  'invites.copyManually': '请按 Ctrl+C 复制已选中的链接。',
  'invites.listTitle': '邀请链接',
  'invites.none': '还没有邀请链接',
  'invites.anyone': '任何持有链接的人',
  'invites.uses': '已使用 {uses} 次',
  'invites.usesOf': '已使用 {uses}/{max} 次',
  'invites.expiresAt': '过期时间',
  'invites.createdAt': '创建于',
  'invites.revoke': '撤销',
  'invites.revokeTitle': '撤销该邀请链接？',
  'invites.revokeText': '撤销后任何人都无法再通过它加入。',
  'invites.revoked': '邀请链接已撤销。',
  'invites.status.active': '有效',
  'invites.status.expired': '已过期',
  'invites.status.revoked': '已撤销',
  'invites.status.used': '已用完',

  'audit.title': '审计日志',
  'audit.subtitle': '谁在本工作区做了哪些更改，最新的在前。',
  'audit.filter': '操作',
  'audit.filterPlaceholder': '例如 member.deactivated；以 . 结尾匹配一类，如 team.',
  'audit.time': '时间',
  'audit.actor': '操作人',
  'audit.action': '操作',
  'audit.target': '对象',
  'audit.detail': '详情',
  'audit.ip': 'IP 地址',
  'audit.system': '系统',
  'audit.none': '暂无记录',
  'audit.noMatch': '该操作没有记录',
  'audit.older': '显示更早的记录',

  'settings.title': '工作区设置',
  'settings.subtitle': '名称以及谁可以加入。',
  'settings.slug': '短名称',
  'settings.created': '创建于',
  'settings.openRegistration': '允许任何人注册并加入本工作区',
  'settings.openRegistrationHint': '关闭时，只能通过邀请链接加入。',
  'settings.saved': '设置已保存。',

  'notFound.title': '页面不存在',
  'notFound.text': '地址可能输错了，或页面已移动。',
  'notFound.home': '返回首页',
  'notFound.workspaceTitle': '找不到工作区',
  'notFound.workspaceText': '它不存在，或者你不是其成员。',
  'forbidden.title': '仅限管理员',
  'forbidden.text': '只有本工作区的所有者和管理员可以打开此页面。',

  'realtime.reconnecting': '正在重新连接…',
  'time.justNow': '刚刚',
};

const DICTS = { en, 'zh-CN': zhCN };

export function isSupportedLang(code) {
  return Object.prototype.hasOwnProperty.call(DICTS, code);
}

function stored() {
  try {
    const v = localStorage.getItem(STORAGE_KEY);
    return isSupportedLang(v) ? v : null;
  } catch {
    return null;
  }
}

function detect() {
  const prefs = navigator.languages?.length ? navigator.languages : [navigator.language || 'en'];
  for (const tag of prefs) {
    const lower = String(tag).toLowerCase();
    if (lower.startsWith('zh')) return 'zh-CN';
    if (lower.startsWith('en')) return 'en';
  }
  return 'en';
}

let lang = stored() || detect();
document.documentElement.lang = lang;
const listeners = new Set();

export function getLang() {
  return lang;
}

/** Whether the user picked a language on this device. */
export function hasStoredLang() {
  return stored() !== null;
}

/** Switch language; `persist: false` for a default taken from the profile. */
export function setLang(code, { persist = true } = {}) {
  if (!isSupportedLang(code)) return;
  if (persist) {
    try {
      localStorage.setItem(STORAGE_KEY, code);
    } catch {
      /* storage disabled: the choice lasts for this page */
    }
  }
  if (code === lang) return;
  lang = code;
  document.documentElement.lang = code;
  for (const fn of listeners) fn(code);
}

export function onLangChange(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

/** Translate `key`, filling {placeholders} from `params`. Falls back to English, then the key. */
export function t(key, params) {
  const dict = DICTS[lang];
  let text;
  if (params && params.count === 1) text = dict[`${key}_one`];
  text ??= dict[key] ?? en[key] ?? key;
  if (params) text = text.replace(/\{(\w+)\}/g, (m, name) => (name in params ? String(params[name]) : m));
  return text;
}

/** For tests and tooling (e.g. checking both languages have every key). */
export const dictionaries = DICTS;
