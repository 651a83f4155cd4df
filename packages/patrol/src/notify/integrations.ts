// Every integration folder, imported once so that each registers itself with the registry.
import './webhook/webhook.js';
import './email/email.js';
import './slack/slack.js';
import './telegram/telegram.js';
import './pagerduty/pagerduty.js';
import './msteams/msteamsv2.js';
import './sms/sms.js';
import './dingtalk/dingtalk.js';
import './wecom/wecom.js';
import './wechat/wechat.js';
import './feishu/feishu.js';
