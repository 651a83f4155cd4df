// Every integration folder, imported once so that each registers itself with the registry.
import './webhook/webhook.js';
import './dingtalk/dingtalk.js';
