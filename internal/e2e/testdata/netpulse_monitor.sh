#!/bin/bash
# Worker监控脚本
API_KEY="your-api-key-here"
API_URL="http://localhost:9000/worker"
LOG_FILE="/var/log/netpulse-workers.log"

# 获取所有Worker
response=$(curl -s -H "X-API-KEY: $API_KEY" "$API_URL")

if [ $? -eq 0 ]; then
    total_workers=$(echo "$response" | jq '.data | length')
    busy_workers=$(echo "$response" | jq '.data[] | select(.status == "busy") | .name' | wc -l)
    dead_workers=$(echo "$response" | jq '.data[] | select(.status == "dead") | .name' | wc -l)

    timestamp=$(date '+%Y-%m-%d %H:%M:%S')
    echo "[$timestamp] 总Worker: $total_workers, 忙碌: $busy_workers, 已停止: $dead_workers" >> "$LOG_FILE"

    # 如果有已停止的Worker，发送告警
    if [ "$dead_workers" -gt 0 ]; then
        echo "[$timestamp] 警告: 发现已停止Worker ($dead_workers)" >> "$LOG_FILE"
    fi

    # 如果忙碌Worker太少，发送告警
    if [ "$busy_workers" -lt 2 ]; then
        echo "[$timestamp] 警告: 忙碌Worker过少 ($busy_workers)" >> "$LOG_FILE"
    fi
else
    echo "[$timestamp] Worker监控失败" >> "$LOG_FILE"
fi
