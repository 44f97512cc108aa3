# Package lib has helpers but no rule id and no findings.
package tokenguard.lib

seconds_per_day := 86400
